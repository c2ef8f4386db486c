/**
 * A minimal SVG (XML) reader for tests: elements with attributes, text and children. It accepts
 * what renderSvg writes (no comments, CDATA or processing instructions) and throws on anything
 * malformed: stray '<', unbalanced or mismatched tags, text outside the root.
 */

export interface SvgNode {
  tag: string;
  attrs: Record<string, string>;
  /** Text content directly inside the element, entities decoded. */
  text: string;
  children: SvgNode[];
}

const ENTITIES: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&apos;': "'" };

function decode(s: string): string {
  return s.replace(/&(amp|lt|gt|quot|apos);/g, (m) => ENTITIES[m]);
}

/** Parse an SVG document into its root element. */
export function parseSvg(svg: string): SvgNode {
  const token = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/y;
  const stack: SvgNode[] = [];
  let root: SvgNode | undefined;
  let pos = 0;
  while (pos < svg.length) {
    token.lastIndex = pos;
    const m = token.exec(svg);
    if (!m) throw new Error(`parseSvg: malformed markup at ${pos}: ${JSON.stringify(svg.slice(pos, pos + 40))}`);
    pos = token.lastIndex;
    const [, close, tag, attrText, selfClose, text] = m;
    if (text !== undefined) {
      if (stack.length) stack[stack.length - 1].text += decode(text);
      else if (text.trim()) throw new Error(`parseSvg: text outside the root: ${JSON.stringify(text.slice(0, 40))}`);
      continue;
    }
    if (close) {
      const open = stack.pop();
      if (!open || open.tag !== tag) throw new Error(`parseSvg: </${tag}> closes <${open?.tag ?? 'nothing'}>`);
      continue;
    }
    const attrs: Record<string, string> = {};
    for (const a of attrText.matchAll(/([\w:.-]+)="([^"]*)"/g)) {
      if (a[1] in attrs) throw new Error(`parseSvg: <${tag}> repeats attribute ${a[1]}`);
      attrs[a[1]] = decode(a[2]);
    }
    const node: SvgNode = { tag, attrs, text: '', children: [] };
    if (stack.length) stack[stack.length - 1].children.push(node);
    else if (root) throw new Error('parseSvg: more than one root element');
    else root = node;
    if (!selfClose) stack.push(node);
  }
  if (stack.length) throw new Error(`parseSvg: <${stack[stack.length - 1].tag}> is never closed`);
  if (!root) throw new Error('parseSvg: no element');
  return root;
}

/** All elements under (and including) `node` for which `pred` holds, in document order. */
export function findAll(node: SvgNode, pred: (n: SvgNode) => boolean): SvgNode[] {
  const out: SvgNode[] = [];
  const walk = (n: SvgNode) => {
    if (pred(n)) out.push(n);
    n.children.forEach(walk);
  };
  walk(node);
  return out;
}

/** Elements with this tag and (optionally) this class. */
export function select(node: SvgNode, tag: string, cls?: string): SvgNode[] {
  return findAll(node, (n) => n.tag === tag && (cls === undefined || (n.attrs.class ?? '').split(' ').includes(cls)));
}

/** A numeric attribute. */
export function num(node: SvgNode, attr: string): number {
  const v = Number(node.attrs[attr]);
  if (!Number.isFinite(v)) throw new Error(`<${node.tag}> has no numeric ${attr} (got ${JSON.stringify(node.attrs[attr])})`);
  return v;
}

/** The rectangle of a <rect>. */
export function rectOf(node: SvgNode): { x: number; y: number; w: number; h: number } {
  return { x: num(node, 'x'), y: num(node, 'y'), w: num(node, 'width'), h: num(node, 'height') };
}

/** The points of a path made of M, L, V, H, h commands with absolute coordinates (what renderSvg writes for lines). */
export function pathPoints(d: string): { cmd: string; x: number; y: number }[] {
  const out: { cmd: string; x: number; y: number }[] = [];
  for (const m of d.matchAll(/([ML])(-?[\d.]+),(-?[\d.]+)/g)) out.push({ cmd: m[1], x: Number(m[2]), y: Number(m[3]) });
  return out;
}
