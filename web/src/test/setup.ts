import '@testing-library/jest-dom/vitest';
import { cleanup, configure } from '@testing-library/react';
import { afterEach } from 'vitest';
import { clearAnnouncement } from '../app/announcer';
import { installMatchMedia } from './media';

installMatchMedia();
// The machine is shared and slow at times: waiting longer for what will come costs nothing.
configure({ asyncUtilTimeout: 4000 });

afterEach(() => {
  cleanup();
  sessionStorage.clear();
  clearAnnouncement();
});
