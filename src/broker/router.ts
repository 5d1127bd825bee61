/**
 * Subject router: a token trie with `*` and `>` wildcards, queue groups, and a match
 * cache keyed by literal subject (cleared whenever the subscription set changes).
 */

/** One subscription as the router sees it. */
export interface Route<S> {
  readonly owner: S;
  readonly sid: number;
  readonly subject: string;
  /** Queue group name, or '' for a plain subscription. */
  readonly queue: string;
  /**
   * Content filter: every entry must match the message's headers (value `*` = the key is
   * present). Undefined for no filter.
   */
  readonly filter?: Readonly<Record<string, string>> | undefined;
}

/** Does a header set satisfy a subscription filter? */
export function filterMatches(filter: Readonly<Record<string, string>>, headers: Readonly<Record<string, string>>): boolean {
  for (const k of Object.keys(filter)) {
    const want = filter[k];
    const have = Object.hasOwn(headers, k) ? headers[k] : undefined;
    if (have === undefined || (want !== '*' && want !== have)) return false;
  }
  return true;
}

/** A queue group's members for one match, with a round-robin cursor. */
export interface GroupMatch<S> {
  readonly name: string;
  readonly members: Route<S>[];
  next: number;
}

/** The result of matching a literal subject. */
export interface Match<S> {
  readonly plain: Route<S>[];
  readonly groups: GroupMatch<S>[];
}

class Node<S> {
  readonly children = new Map<string, Node<S>>();
  star: Node<S> | undefined;
  /** Routes whose pattern ends in '>' at this level. */
  readonly rest: Route<S>[] = [];
  /** Routes whose pattern ends exactly here. */
  readonly here: Route<S>[] = [];
}

const MAX_CACHE = 4096;

export class Router<S> {
  private readonly root = new Node<S>();
  private readonly cache = new Map<string, Match<S>>();
  private count = 0;

  /** Number of routes. */
  get size(): number {
    return this.count;
  }

  add(route: Route<S>): void {
    const tokens = route.subject.split('.');
    let node = this.root;
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!;
      if (t === '>') {
        node.rest.push(route);
        this.changed();
        return;
      }
      if (t === '*') node = node.star ??= new Node<S>();
      else {
        let child = node.children.get(t);
        if (!child) node.children.set(t, (child = new Node<S>()));
        node = child;
      }
    }
    node.here.push(route);
    this.changed();
  }

  remove(route: Route<S>): boolean {
    const tokens = route.subject.split('.');
    const path: [Node<S>, string][] = [];
    let node: Node<S> | undefined = this.root;
    for (let i = 0; i < tokens.length && node; i++) {
      const t = tokens[i]!;
      if (t === '>') {
        const removed = removeFrom(node.rest, route);
        if (removed) {
          this.count--;
          this.prune(path);
          this.cache.clear();
        }
        return removed;
      }
      path.push([node, t]);
      node = t === '*' ? node.star : node.children.get(t);
    }
    if (!node) return false;
    const removed = removeFrom(node.here, route);
    if (removed) {
      this.count--;
      this.prune(path);
      this.cache.clear();
    }
    return removed;
  }

  /** Every route matching the literal `subject`, with queue groups collected by name. */
  match(subject: string): Match<S> {
    const cached = this.cache.get(subject);
    if (cached) return cached;
    const found: Route<S>[] = [];
    collect(this.root, subject.split('.'), 0, found);
    const plain: Route<S>[] = [];
    const groups = new Map<string, GroupMatch<S>>();
    for (const r of found) {
      if (r.queue === '') plain.push(r);
      else {
        let g = groups.get(r.queue);
        if (!g) groups.set(r.queue, (g = { name: r.queue, members: [], next: 0 }));
        g.members.push(r);
      }
    }
    // The round-robin cursor lives in this cached result, which every subscription change
    // (anywhere) throws away. Starting each fresh result at member 0 sent everything to
    // the first member whenever subscriptions churned; a random start keeps the spread even.
    for (const g of groups.values()) g.next = Math.floor(Math.random() * g.members.length);
    const result: Match<S> = { plain, groups: [...groups.values()] };
    // Reply inboxes are unique per request: caching them would only evict hot subjects.
    if (!subject.startsWith('_INBOX.')) {
      if (this.cache.size >= MAX_CACHE) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(subject, result);
    }
    return result;
  }

  private changed(): void {
    this.count++;
    this.cache.clear();
  }

  /** Drop empty trie nodes along `path` (deepest first). */
  private prune(path: [Node<S>, string][]): void {
    for (let i = path.length - 1; i >= 0; i--) {
      const [parent, token] = path[i]!;
      const child = token === '*' ? parent.star : parent.children.get(token);
      if (!child || !isEmpty(child)) return;
      if (token === '*') parent.star = undefined;
      else parent.children.delete(token);
    }
  }
}

function isEmpty<S>(n: Node<S>): boolean {
  return n.here.length === 0 && n.rest.length === 0 && n.children.size === 0 && n.star === undefined;
}

function removeFrom<S>(list: Route<S>[], route: Route<S>): boolean {
  const i = list.indexOf(route);
  if (i < 0) return false;
  list.splice(i, 1);
  return true;
}

function collect<S>(node: Node<S>, tokens: string[], i: number, out: Route<S>[]): void {
  if (node.rest.length > 0 && i < tokens.length) for (const r of node.rest) out.push(r);
  if (i === tokens.length) {
    for (const r of node.here) out.push(r);
    return;
  }
  const child = node.children.get(tokens[i]!);
  if (child) collect(child, tokens, i + 1, out);
  if (node.star) collect(node.star, tokens, i + 1, out);
}
