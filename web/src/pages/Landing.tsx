import { useServices } from '../app/services';
import styles from './pages.module.css';

/** Signed out: what this is, in one sentence, and the way in. */
export function Landing() {
  const { auth } = useServices();
  return (
    <section className={styles.landing} aria-labelledby="landing-title">
      <h1 id="landing-title">Circle of Trust</h1>
      <p className={styles.lead}>
        Ask one question and a circle of AI advisors answers it independently, reviews each other’s answers anonymously, and a chair tells you where they agree,
        where they disagree and how sure they are.
      </p>
      <button type="button" className="primary" onClick={() => void auth.signIn(window.location.pathname)}>
        Sign in
      </button>
    </section>
  );
}
