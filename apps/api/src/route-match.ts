import { match } from 'path-to-regexp';
import type { ApiRoute } from './api-routes.js';

/** What a request's method and path are to the route table. */
export type RouteMatch =
  | { kind: 'route'; route: ApiRoute; parameters: Record<string, string> }
  /** The path is known, not with this method: 405, with these in `Allow`. */
  | { kind: 'method'; route: ApiRoute; allowed: string[] }
  | { kind: 'none' };

/**
 * Matches requests against the route table as Express 5 does (path-to-regexp 8: case-insensitive
 * is not its default, but Express's; an optional trailing slash), HEAD as GET.
 */
export function routeMatcher(routes: ApiRoute[]): (method: string, path: string) => RouteMatch {
  const matchers = routes.map((route) => ({ route, match: match(route.path, { decode: false, sensitive: false, trailing: true }) }));
  return (method, path) => {
    const wanted = method === 'HEAD' ? 'GET' : method;
    let samePath: ApiRoute | null = null;
    const allowed: string[] = [];
    for (const { route, match: matchPath } of matchers) {
      const matched = matchPath(path);
      if (matched === false) continue;
      if (route.method === wanted) return { kind: 'route', route, parameters: decodeParameters(matched.params) };
      samePath ??= route;
      allowed.push(route.method);
    }
    return samePath === null ? { kind: 'none' } : { kind: 'method', route: samePath, allowed };
  };
}

/**
 * Decodes matched path parameters; a malformed one (`%E0%A4%A`) goes to `malformed`, which
 * returns what to use instead or throws. Default: the parameter as it came.
 */
export function decodeParameters(
  raw: Partial<Record<string, string | string[]>>,
  malformed: (value: string) => string = (value) => value,
): Record<string, string> {
  const parameters: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (typeof value !== 'string') continue;
    try {
      parameters[name] = decodeURIComponent(value);
    } catch {
      parameters[name] = malformed(value);
    }
  }
  return parameters;
}
