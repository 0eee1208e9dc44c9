// A small History-API router: routes are path patterns with :params; links
// with the data-link attribute or plain same-origin <a> are intercepted.

export interface Match {
  name: string;
  params: Record<string, string>;
}

const routes: [string, string][] = [
  ["home", "/"],
  ["login", "/login"],
  ["signup", "/signup"],
  ["profile", "/me"],
  ["invite", "/invite/:code"],
  ["community", "/c/:server"],
  ["channel", "/c/:server/:channel"],
  ["dms", "/dm"],
  ["dm", "/dm/:dm"],
  ["rooms", "/rooms"],
  ["room", "/room/:room"],
  ["live", "/live"],
  ["embedVideo", "/embed/video"],
  ["embedChatReadonly", "/embed/chat/readonly"],
  ["embedChatReadwrite", "/embed/chat/readwrite"],
];

const adminSections = new Set(["overview", "video", "settings", "chat", "emoji", "webhooks", "tokens", "recordings", "users", "featured"]);

export function match(path: string): Match {
  const parts = path.replace(/\/+$/, "").split("/").filter(Boolean);
  // The admin UI owns every path under /admin/ (Owncast's admin links too).
  if (parts[0] === "admin") {
    const section = parts[1] && adminSections.has(parts[1]) ? parts[1] : "overview";
    return { name: "admin", params: { section } };
  }
  for (const [name, pattern] of routes) {
    const pp = pattern.split("/").filter(Boolean);
    if (pp.length !== parts.length) continue;
    const params: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < pp.length; i++) {
      if (pp[i].startsWith(":")) {
        try {
          params[pp[i].slice(1)] = decodeURIComponent(parts[i]);
        } catch {
          ok = false;
          break;
        }
      } else if (pp[i] !== parts[i]) {
        ok = false;
        break;
      }
    }
    if (ok) return { name, params };
  }
  return { name: "notFound", params: {} };
}

class Router {
  path = $state(location.pathname);
  query = $state(location.search);
  route = $derived(match(this.path));

  constructor() {
    addEventListener("popstate", () => this.sync());
    document.addEventListener("click", (e) => this.onClick(e));
  }

  go(to: string, replace = false) {
    const u = new URL(to, location.href);
    if (u.origin !== location.origin) {
      location.href = to;
      return;
    }
    if (replace) history.replaceState(null, "", u.pathname + u.search + u.hash);
    else history.pushState(null, "", u.pathname + u.search + u.hash);
    this.sync();
    // Move focus to the main region for keyboard and screen-reader users.
    queueMicrotask(() => document.getElementById("main")?.focus({ preventScroll: true }));
  }

  private sync() {
    this.path = location.pathname;
    this.query = location.search;
  }

  private onClick(e: MouseEvent) {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = (e.target as Element | null)?.closest?.("a");
    if (!a || a.target || a.hasAttribute("download") || a.getAttribute("rel")?.includes("external")) return;
    const href = a.getAttribute("href");
    if (!href || href.startsWith("#")) return;
    const u = new URL(href, location.href);
    if (u.origin !== location.origin || match(u.pathname).name === "notFound") return;
    e.preventDefault();
    this.go(u.pathname + u.search + u.hash);
  }
}

export const router = new Router();
