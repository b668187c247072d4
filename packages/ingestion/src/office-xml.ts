import { XMLParser } from 'fast-xml-parser';
import { entryText, resolvePartPath, type ZipEntries } from './zip-archive.js';

/** An XML element with its children in document order (text as strings). */
export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: (XmlElement | string)[];
}

/**
 * fast-xml-parser in ordered mode: Office XML is mixed content where order is meaning (runs of
 * a paragraph, paragraphs of a shape). Values stay strings, whitespace inside text stays (a run
 * `<a:t> and </a:t>` keeps its spaces), and DOCTYPE entities are expanded only within the
 * library's default limits.
 */
const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  trimValues: false,
  parseTagValue: false,
  parseAttributeValue: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
});

type OrderedNode = Record<string, unknown>;

/** Parses an XML document into its root element (a synthetic `#document` holding the top-level nodes). */
export function parseXml(text: string): XmlElement {
  const nodes = parser.parse(text) as OrderedNode[];
  return { name: '#document', attributes: {}, children: nodes.map(toElement).filter((node) => node !== undefined) };
}

function toElement(node: OrderedNode): XmlElement | string | undefined {
  const attributes = (node[':@'] ?? {}) as Record<string, string>;
  for (const [key, value] of Object.entries(node)) {
    if (key === ':@') continue;
    if (key === '#text') return String(value);
    if (key === '#comment' || key.startsWith('?')) return undefined;
    const children = Array.isArray(value) ? (value as OrderedNode[]).map(toElement).filter((child) => child !== undefined) : [];
    return { name: key, attributes, children };
  }
  return undefined;
}

/** Child elements, optionally of one name. */
export function childElements(element: XmlElement, name?: string): XmlElement[] {
  return element.children.filter((child): child is XmlElement => typeof child !== 'string' && (name === undefined || child.name === name));
}

export function firstChild(element: XmlElement, name: string): XmlElement | undefined {
  return childElements(element, name)[0];
}

/** Descendants of one name, in document order, not looking inside a match. */
export function findElements(element: XmlElement, name: string): XmlElement[] {
  const found: XmlElement[] = [];
  for (const child of childElements(element)) {
    if (child.name === name) found.push(child);
    else found.push(...findElements(child, name));
  }
  return found;
}

/** All the text inside an element, concatenated in order. */
export function textContent(element: XmlElement): string {
  return element.children.map((child) => (typeof child === 'string' ? child : textContent(child))).join('');
}

/** A part's relationships by id: target part path (resolved) and type (the last segment of its URI). */
export function readRelationships(entries: ZipEntries, partPath: string): Map<string, { target: string; type: string; external: boolean }> {
  const slash = partPath.lastIndexOf('/');
  const relationshipsPath = `${partPath.slice(0, slash + 1)}_rels/${partPath.slice(slash + 1)}.rels`;
  const text = entryText(entries, relationshipsPath);
  const relationships = new Map<string, { target: string; type: string; external: boolean }>();
  if (text === undefined) return relationships;
  for (const relationship of findElements(parseXml(text), 'Relationship')) {
    const { Id: id, Target: target, Type: type, TargetMode: mode } = relationship.attributes;
    if (id === undefined || target === undefined) continue;
    const external = mode === 'External';
    relationships.set(id, { target: external ? target : resolvePartPath(partPath, target), type: type?.split('/').at(-1) ?? '', external });
  }
  return relationships;
}

/** `dc:title` of docProps/core.xml, when it says something. */
export function readCoreTitle(entries: ZipEntries): string | undefined {
  const text = entryText(entries, 'docProps/core.xml');
  if (text === undefined) return undefined;
  const title = findElements(parseXml(text), 'dc:title')[0];
  const value = title === undefined ? '' : textContent(title).replace(/\s+/g, ' ').trim();
  return value === '' ? undefined : value;
}
