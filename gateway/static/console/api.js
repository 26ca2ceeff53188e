// The console API with the staff token (CONTRACT.md "Staff console API"). Tokens live
// in sessionStorage: per tab, they survive a reload (the session is kept) and vanish
// with the tab. An expired access token is renewed once with the refresh token.
export const store = window.sessionStorage;
let refreshing = null;
let onSignedOut = () => {};

export function whenSignedOut(callback) { onSignedOut = callback; }

export function claims() {
  try {
    const part = store.getItem("console.token").split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part));
  } catch (e) { return {}; }
}
export const isSupervisor = () => (claims().roles || []).includes("supervisor");
export const me = () => claims().sub;
export const token = () => store.getItem("console.token");

export function keepTokens(pair) {
  store.setItem("console.token", pair.access_token);
  store.setItem("console.refresh", pair.refresh_token);
}

export function forgetTokens() {
  ["console.token", "console.refresh", "console.user", "console.current"].forEach((k) => store.removeItem(k));
}

export async function refreshTokens() {
  // One refresh at a time: a refresh token is single-use.
  if (!refreshing) {
    refreshing = (async () => {
      const refresh = store.getItem("console.refresh");
      if (!refresh) return false;
      const response = await fetch("/auth/refresh", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: refresh }),
      }).catch(() => null);
      if (!response || !response.ok) return false;
      keepTokens(await response.json());
      return true;
    })().finally(() => { refreshing = null; });
  }
  return refreshing;
}

export async function request(path, options = {}, retried = false) {
  const response = await fetch(path, {
    ...options,
    headers: { Authorization: `Bearer ${token()}`, "Content-Type": "application/json",
               ...(options.headers || {}) },
  });
  if (response.status === 401 && !retried && await refreshTokens()) {
    return request(path, options, true);
  }
  if (response.status === 401) {
    onSignedOut("Your session ended; sign in again.");
    throw new Error("signed out");
  }
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    const error = new Error(problem.detail || problem.title || `HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return response;
}

export async function api(path, options) { return (await request(path, options)).json(); }

export async function download(path, filename) {
  const blob = await (await request(path)).blob();
  const link = Object.assign(document.createElement("a"), { href: URL.createObjectURL(blob), download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}
