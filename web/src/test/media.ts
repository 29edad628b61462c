/** jsdom has no layout: a matchMedia whose width the test sets. */
let width = 1280;
const lists = new Set<{ query: string; fire: () => void }>();

function matches(query: string): boolean {
  const max = /max-width:\s*(\d+)px/.exec(query);
  return max ? width <= Number(max[1]) : false;
}

export function installMatchMedia(): void {
  window.matchMedia = (query: string) => {
    const listeners = new Set<() => void>();
    const entry = { query, fire: () => listeners.forEach((l) => l()) };
    lists.add(entry);
    return {
      get matches() {
        return matches(query);
      },
      media: query,
      onchange: null,
      addEventListener: (_: string, l: () => void) => listeners.add(l),
      removeEventListener: (_: string, l: () => void) => listeners.delete(l),
      addListener: (l: () => void) => listeners.add(l),
      removeListener: (l: () => void) => listeners.delete(l),
      dispatchEvent: () => true,
    } as unknown as MediaQueryList;
  };
}

/** Sets the viewport width that media queries see. */
export function setViewportWidth(px: number): void {
  width = px;
  for (const l of lists) l.fire();
}
