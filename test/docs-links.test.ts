// Every link and image in README.md, docs/*.md and the examples' READMEs resolves: a relative
// target exists in the repository, and an #anchor names a heading of the target page by GitHub's
// slug rules. README.md stays a short page for newcomers; the reference lives in docs/.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, it } from 'node:test';

const root = resolve(import.meta.dirname, '..');

/** The pages whose links are checked: README.md, docs/*.md, examples/**\/README.md. */
function pages(dir: string): string[] {
  const examples = (d: string): string[] =>
    readdirSync(d).flatMap((name) => {
      const p = join(d, name);
      if (statSync(p).isDirectory()) return name === 'node_modules' ? [] : examples(p);
      return name === 'README.md' ? [p] : [];
    });
  const docs = join(dir, 'docs');
  return [
    join(dir, 'README.md'),
    ...(existsSync(docs) ? readdirSync(docs).filter((n) => n.endsWith('.md')) : []).map((n) => join(docs, n)),
    ...(existsSync(join(dir, 'examples')) ? examples(join(dir, 'examples')) : []),
  ].sort();
}

/** Blanks fenced code blocks and HTML comments, keeping every newline so that offsets still give line numbers. */
function withoutBlocks(md: string): string {
  const blank = (s: string) => s.replace(/[^\n]/g, ' ');
  let fence: string | undefined;
  const lines = md.split('\n').map((line) => {
    const m = /^ {0,3}(`{3,}|~{3,})/.exec(line);
    if (fence) {
      if (m && m[1][0] === fence[0] && m[1].length >= fence.length && line.trim() === m[1]) fence = undefined;
      return blank(line);
    }
    if (m) {
      fence = m[1];
      return blank(line);
    }
    return line;
  });
  return lines.join('\n').replace(/<!--[\s\S]*?-->/g, blank);
}

/** Also blanks inline code spans, where brackets and parentheses are not links. */
function withoutCode(md: string): string {
  return withoutBlocks(md).replace(/(`+)[^`\n](?:.*?[^`])??\1(?!`)/g, (s) => ' '.repeat(s.length));
}

/** GitHub's anchor for a heading's text: lowercase, punctuation other than hyphens and underscores dropped, spaces to hyphens. */
function slug(heading: string): string {
  const text = heading
    .replace(/!\[([^\]]*)\]\([^)]*\)/g, '$1') // an image: its alt text
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1') // a link: its text
    .replace(/<[^>]+>/g, '') // HTML tags
    .replace(/[`*]/g, '') // code and emphasis marks
    .replace(/\\(.)/g, '$1') // escapes
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-');
}

/** The anchors of a page's headings (ATX and setext), duplicates numbered -1, -2 as GitHub does. */
function anchors(md: string): Set<string> {
  const titles: string[] = [];
  const lines = withoutBlocks(md).split('\n');
  lines.forEach((line, i) => {
    const atx = /^ {0,3}#{1,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/.exec(line);
    if (atx) titles.push(atx[1] ?? '');
    else if (i > 0 && /^ {0,3}(=+|-+)[ \t]*$/.test(line) && /\S/.test(lines[i - 1]) && !/^ {0,3}([-*+]|\d+[.)]|#|>|\|)/.test(lines[i - 1])) {
      titles.push(lines[i - 1].trim());
    }
  });
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const title of titles) {
    const base = slug(title);
    let s = base;
    while (result.has(s)) {
      const n = (seen.get(base) ?? 0) + 1;
      seen.set(base, n);
      s = `${base}-${n}`;
    }
    result.add(s);
  }
  return result;
}

interface Link {
  line: number;
  target: string;
}

/** Inline links and images, reference definitions, and HTML src/href, with their line numbers. */
function links(md: string): { links: Link[]; undefinedReferences: Link[] } {
  const text = withoutCode(md);
  const lineAt = (offset: number) => text.slice(0, offset).split('\n').length;
  const found: Link[] = [];
  const add = (offset: number, target: string) => found.push({ line: lineAt(offset), target: target.replace(/^<(.*)>$/, '$1') });
  // [text](target), ![alt](target), [![alt](img)](target); a target may hold one level of parentheses and a title.
  for (const m of text.matchAll(/\]\(\s*(<[^>\n]*>|(?:[^()\s]|\([^()\s]*\))*)(?:\s+(?:"[^"\n]*"|'[^'\n]*'|\([^)\n]*\)))?\s*\)/g)) {
    add(m.index, m[1]);
  }
  // [label]: target
  const defined = new Set<string>();
  const label = (s: string) => s.trim().replace(/\s+/g, ' ').toLowerCase();
  for (const m of text.matchAll(/^ {0,3}\[([^\]\n]+)\]:[ \t]*(<[^>\n]*>|\S+)/gm)) {
    defined.add(label(m[1]));
    add(m.index, m[2]);
  }
  // <img src="..."> and <a href="...">
  for (const m of text.matchAll(/<(?:img|a)\b[^>]*?\b(?:src|href)\s*=\s*["']([^"']*)["']/gi)) add(m.index, m[1]);
  // [text][label] and [label][] need a definition.
  const undefinedReferences: Link[] = [];
  for (const m of text.matchAll(/\[([^\]\n]*)\]\[([^\]\n]*)\]/g)) {
    const name = label(m[2] || m[1]);
    if (!defined.has(name)) undefinedReferences.push({ line: lineAt(m.index), target: `[${m[1]}][${m[2]}]` });
  }
  return { links: found, undefinedReferences };
}

interface Broken {
  page: string;
  link: string;
  why: string;
}

/** Every broken link of the given pages; paths are reported relative to dir. */
function brokenLinks(dir: string, files: string[]): Broken[] {
  const anchorCache = new Map<string, Set<string>>();
  const anchorsOf = (file: string) => {
    let a = anchorCache.get(file);
    if (!a) {
      a = anchors(readFileSync(file, 'utf8'));
      anchorCache.set(file, a);
    }
    return a;
  };
  const broken: Broken[] = [];
  for (const file of files) {
    const page = relative(dir, file);
    const found = links(readFileSync(file, 'utf8'));
    for (const ref of found.undefinedReferences) broken.push({ page: `${page}:${ref.line}`, link: ref.target, why: 'no such reference definition' });
    for (const { line, target } of found.links) {
      const report = (why: string) => broken.push({ page: `${page}:${line}`, link: target, why });
      if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) continue; // http:, https:, mailto: and other external URLs
      if (target === '') {
        report('empty link');
        continue;
      }
      const hash = target.indexOf('#');
      const pathPart = (hash < 0 ? target : target.slice(0, hash)).replace(/\?.*$/, '');
      let anchor = hash < 0 ? undefined : target.slice(hash + 1);
      let path: string;
      try {
        path = decodeURIComponent(pathPart);
        anchor = anchor === undefined ? undefined : decodeURIComponent(anchor);
      } catch {
        report('not a valid URL');
        continue;
      }
      let resolved = path === '' ? file : path.startsWith('/') ? join(dir, path) : resolve(dirname(file), path);
      if (resolved !== dir && !resolved.startsWith(dir + sep)) {
        report('points outside the repository');
        continue;
      }
      if (!existsSync(resolved)) {
        report(`${relative(dir, resolved)} does not exist`);
        continue;
      }
      if (anchor === undefined || anchor === '') continue;
      if (statSync(resolved).isDirectory()) resolved = join(resolved, 'README.md'); // GitHub shows a folder's README
      if (!resolved.endsWith('.md')) continue; // anchors into source files (#L10) are GitHub's line links
      if (!existsSync(resolved)) {
        report(`${relative(dir, resolved)} does not exist`);
        continue;
      }
      if (!anchorsOf(resolved).has(anchor)) report(`no heading with anchor #${anchor} in ${relative(dir, resolved)}`);
    }
  }
  return broken;
}

const listing = (broken: Broken[]) => `broken links:\n${broken.map((b) => `  ${b.page}: ${b.link} (${b.why})`).join('\n')}`;

describe('docs links', () => {
  it('slugs headings as GitHub does', () => {
    assert.equal(slug('The external site (kubevirt.io)'), 'the-external-site-kubevirtio');
    assert.equal(slug('8. The console'), '8-the-console');
    assert.equal(slug('`2/2`: no sidecar, because the namespace is not labelled'), '22-no-sidecar-because-the-namespace-is-not-labelled');
    assert.equal(slug("Where virtmesh differs from Kiali's graph on purpose"), 'where-virtmesh-differs-from-kialis-graph-on-purpose');
    assert.equal(slug('virtmesh — style'), 'virtmesh--style');
    assert.equal(slug('VIRTMESH_VM_ACCEL and [links](x.md)'), 'virtmesh_vm_accel-and-links');
    assert.deepEqual([...anchors('# Usage\n\n## Usage\n\nUsage\n-----\n\n```\n# not a heading\n```\n')], ['usage', 'usage-1', 'usage-2']);
  });

  it('reports a missing file, a missing anchor and an undefined reference, and ignores code and external URLs', () => {
    const dir = mkdtempSync(join(tmpdir(), 'virtmesh-docs-links-'));
    try {
      mkdirSync(join(dir, 'docs'));
      writeFileSync(join(dir, 'docs', 'a.md'), '# A page\n\n## Second part\n');
      writeFileSync(
        join(dir, 'README.md'),
        [
          '# Top',
          '[ok](docs/a.md#second-part) [ok](#top) ![ok](docs/a.md) [ok](https://example.com/x) [ok](mailto:x@example.com)',
          '[gone](docs/b.md) [no anchor](docs/a.md#third-part) [here](#nowhere) [ref][missing]',
          '`[code](not-a-link.md)`',
          '```',
          '[block](not-a-link-either.md)',
          '```',
          '[defined][d]',
          '',
          '[d]: docs/c.md',
        ].join('\n'),
      );
      const broken = brokenLinks(dir, pages(dir));
      assert.deepEqual(
        broken.map((b) => `${b.page} ${b.link}`),
        ['README.md:3 [ref][missing]', 'README.md:3 docs/b.md', 'README.md:3 docs/a.md#third-part', 'README.md:3 #nowhere', 'README.md:10 docs/c.md'],
        listing(broken),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('every relative link and image in README.md, docs/ and the examples resolves, anchors included', () => {
    const files = pages(root);
    assert.ok(files.includes(join(root, 'README.md')) && files.some((f) => f.startsWith(join(root, 'docs') + sep)), 'the pages are found');
    const count = files.reduce((n, f) => n + links(readFileSync(f, 'utf8')).links.length, 0);
    assert.ok(count > 20, `links are found (${count})`);
    const broken = brokenLinks(root, files);
    assert.equal(broken.length, 0, listing(broken));
  });

  it('README.md stays under 150 lines', () => {
    const text = readFileSync(join(root, 'README.md'), 'utf8');
    const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
    assert.ok(lines < 150, `README.md has ${lines} lines; move reference into docs/ and link it`);
  });
});
