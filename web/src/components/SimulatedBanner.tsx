import styles from './SimulatedBanner.module.css';

/** Said on every page when the advisors are the local simulation. */
export function SimulatedBanner() {
  return (
    <p className={styles.banner} role="note">
      <strong>Simulated advisors.</strong> The answers here come from a local simulation, not real models: they are template text, not advice.
    </p>
  );
}
