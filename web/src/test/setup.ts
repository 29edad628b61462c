import '@testing-library/jest-dom/vitest';
import { cleanup } from '@testing-library/react';
import { afterEach } from 'vitest';
import { clearAnnouncement } from '../app/announcer';
import { installMatchMedia } from './media';

installMatchMedia();

afterEach(() => {
  cleanup();
  sessionStorage.clear();
  clearAnnouncement();
});
