import { useEffect, useRef, useState } from 'react';
import { navigate } from '../app/router';
import { useServices } from '../app/services';

/** The OIDC redirect: exchanges the code, then goes back, leaving no ?code or state in the address bar. */
export function CallbackPage() {
  const { auth } = useServices();
  const [failed, setFailed] = useState(false);
  const started = useRef(false);

  useEffect(() => {
    if (started.current) return; // the code can be exchanged once only
    started.current = true;
    auth.completeSignIn(window.location.href).then(
      (returnTo) => navigate(returnTo, { replace: true }),
      () => {
        window.history.replaceState(null, '', '/callback');
        setFailed(true);
      },
    );
  }, [auth]);

  if (!failed) return <p>Signing you in…</p>;
  return (
    <>
      <h1>Sign-in did not complete</h1>
      <p role="alert">The sign-in could not be completed (it may have expired or been used already).</p>
      <button type="button" className="primary" onClick={() => void auth.signIn('/')}>
        Sign in
      </button>
    </>
  );
}
