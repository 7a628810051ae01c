// Hash routes (#/projects): the gateway serves one page at "/", so any route reloads to the same document.
import { useEffect, useState } from "preact/hooks";

export function currentRoute(): string {
  const hash = location.hash.replace(/^#\/?/, "");
  return hash.split("?")[0] || "overview";
}

export function useRoute(): string {
  const [route, setRoute] = useState(currentRoute());
  useEffect(() => {
    const update = () => setRoute(currentRoute());
    window.addEventListener("hashchange", update);
    return () => window.removeEventListener("hashchange", update);
  }, []);
  return route;
}

export const navigate = (route: string) => {
  location.hash = `#/${route}`;
};
