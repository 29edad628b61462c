/** Boots the app: reads config.json, restores the session, renders. */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { ApiClient } from './api/api-client';
import { App } from './app/App';
import { loadConfig } from './app/config';
import { ServicesProvider } from './app/services';
import { Auth } from './auth/auth';
import './app/global.css';

async function boot(root: HTMLElement): Promise<void> {
  const config = await loadConfig();
  const auth = new Auth(config.oidc, window.location.origin);
  const api = new ApiClient({ baseUrl: config.apiUrl, token: () => auth.accessToken(), onUnauthorized: () => auth.expire() });
  await auth.init();
  createRoot(root).render(
    <StrictMode>
      <ServicesProvider value={{ config, auth, api }}>
        <App />
      </ServicesProvider>
    </StrictMode>,
  );
}

const root = document.getElementById('root')!;
boot(root).catch((err: unknown) => {
  // No stack on the page: the reason in words, and what to do.
  const p = document.createElement('p');
  p.setAttribute('role', 'alert');
  p.textContent = err instanceof Error && err.name === 'ConfigError' ? err.message : 'The app could not start. Reload the page to try again.';
  root.replaceChildren(p);
});
