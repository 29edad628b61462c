import { useServices } from '../app/services';
import { useCircle } from '../app/use-circle';
import { QuestionForm } from '../components/QuestionForm';

/** Asking a new question. */
export function AskPage() {
  const { api } = useServices();
  const { circle, error } = useCircle(api);
  return (
    <>
      <h1>Ask the circle</h1>
      {error && <p role="alert">{error}</p>}
      {!circle && !error && <p>Loading the circle…</p>}
      {circle && <QuestionForm circle={circle} />}
    </>
  );
}
