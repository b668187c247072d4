const storageKey = 'passage.apiKey';

/** The API key kept in this browser's storage, or null. It is only ever sent as a Bearer header. */
export function storedApiKey(): string | null {
  try {
    const value = localStorage.getItem(storageKey);
    return value === null || value === '' ? null : value;
  } catch {
    // Storage refused (a privacy mode): the page works without a key.
    return null;
  }
}

export function storeApiKey(value: string | null): void {
  if (value === null || value.trim() === '') localStorage.removeItem(storageKey);
  else localStorage.setItem(storageKey, value.trim());
}
