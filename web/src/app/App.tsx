/** The shell: header and navigation, the session and simulation banners, the route, the status region. */
import { useEffect, useRef } from 'react';
import { CallbackPage } from '../pages/CallbackPage';
import { AskPage } from '../pages/AskPage';
import { HistoryPage } from '../pages/HistoryPage';
import { JobPage } from '../pages/JobPage';
import { Landing } from '../pages/Landing';
import { StatusRegion } from './announcer';
import { Link, useRoute, type Route } from './router';
import { useServices } from './services';
import { useStore } from './store';
import { SimulatedBanner } from '../components/SimulatedBanner';
import styles from './App.module.css';

export function App() {
  const { auth, config } = useServices();
  const session = useStore(auth.state);
  const route = useRoute();
  const signedIn = session.status === 'signed-in' || session.status === 'expired';

  const path = route.name === 'job' ? route.jobId : route.name;
  const firstPage = useRef(true);
  useEffect(() => {
    document.title = titleOf(route);
    // A new page (not the first): focus its content, so keyboards and screen readers start there.
    if (!firstPage.current && route.name !== 'callback') document.getElementById('main')?.focus();
    firstPage.current = false;
    // Keyed by the page's identity: a new route object for the same page must not move focus.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [path]);

  const signIn = () => void auth.signIn(window.location.pathname);

  return (
    <div className={styles.app}>
      <a className={styles.skip} href="#main">
        Skip to content
      </a>
      <header className={styles.header}>
        <Link to="/" className={styles.brand}>
          Circle of Trust
        </Link>
        {signedIn && (
          <nav aria-label="Main" className={styles.nav}>
            <Link to="/" aria-current={route.name === 'home' ? 'page' : undefined}>
              Ask
            </Link>
            <Link to="/history" aria-current={route.name === 'history' ? 'page' : undefined}>
              History
            </Link>
            <span className={styles.user}>
              <span className="visually-hidden">Signed in as </span>
              {session.name}
            </span>
            <button type="button" onClick={() => void auth.signOut()}>
              Sign out
            </button>
          </nav>
        )}
      </header>
      {config.simulated && <SimulatedBanner />}
      {session.status === 'expired' && (
        <div className={styles.expired} role="alert">
          <p>Your session has expired. Sign in again to continue — nothing on this page is lost.</p>
          <button type="button" className="primary" onClick={signIn}>
            Sign in again
          </button>
        </div>
      )}
      <main id="main" tabIndex={-1} className={styles.main}>
        <Page route={route} signedIn={signedIn} loading={session.status === 'loading'} />
      </main>
      <StatusRegion className="visually-hidden" />
    </div>
  );
}

function Page({ route, signedIn, loading }: { route: Route; signedIn: boolean; loading: boolean }) {
  if (route.name === 'callback') return <CallbackPage />;
  if (loading) return <p>Loading…</p>;
  if (!signedIn) return <Landing />;
  switch (route.name) {
    case 'home':
      return <AskPage />;
    case 'job':
      return <JobPage key={route.jobId} jobId={route.jobId} />;
    case 'history':
      return <HistoryPage />;
    case 'not-found':
      return (
        <>
          <h1>Page not found</h1>
          <p>
            There is nothing at this address. <Link to="/">Ask the circle</Link> or open your <Link to="/history">history</Link>.
          </p>
        </>
      );
  }
}

function titleOf(route: Route): string {
  switch (route.name) {
    case 'job':
      return 'Job · Circle of Trust';
    case 'history':
      return 'History · Circle of Trust';
    default:
      return 'Circle of Trust';
  }
}
