import { useServices } from '../app/services';
import { useStore } from '../app/store';
import { useCircle } from '../app/use-circle';
import { QuestionForm } from '../components/QuestionForm';

/** Asking a new question. */
export function AskPage() {
  const { api, auth } = useServices();
  const expired = useStore(auth.state).status === 'expired';
  const { circle, error } = useCircle(api);
  return (
    <>
      <h1>Ask the circle</h1>
      {/* An expired session is said once, by the banner above. */}
      {!circle && expired && <p>Sign in again to ask the circle; anything you had typed is kept.</p>}
      {error && !expired && <p role="alert">{error}</p>}
      {!circle && !error && !expired && <p>Loading the circle…</p>}
      {circle && <QuestionForm circle={circle} />}
    </>
  );
}
