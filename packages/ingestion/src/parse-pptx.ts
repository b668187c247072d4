import { DocumentError, type ParsedDocument, type ParsedPage } from '@passage/spec';
import { childElements, findElements, firstChild, parseXml, readCoreTitle, readRelationships, textContent, type XmlElement } from './office-xml.js';
import { tableToText, type TableCell } from './table-text.js';
import { entryText, readZipEntries, type ZipEntries, type ZipLimits } from './zip-archive.js';

const presentationPart = 'ppt/presentation.xml';

/**
 * A PowerPoint presentation (.pptx): one page per slide, numbered as the slides are shown, so a
 * citation's page is the slide number. Each page starts with `Slide N`, then the text of its
 * shapes in order (text boxes, placeholders, groups, tables as `cell | cell` lines), then its
 * speaker notes and comments. Read with yauzl (bounded unpacking) and fast-xml-parser: the
 * maintained .pptx readers for Node either build presentations or drop tables and notes.
 */
export async function parsePptx(bytes: Uint8Array, limits?: ZipLimits): Promise<ParsedDocument> {
  // Media (images, video) is never read: only the XML parts.
  const entries = await readZipEntries(bytes, 'PowerPoint', limits, (name) => name.endsWith('.xml') || name.endsWith('.rels'));
  const presentation = entryText(entries, presentationPart);
  if (presentation === undefined) throw new DocumentError('document_corrupt', `The PowerPoint file has no ${presentationPart} part`);
  const relationships = readRelationships(entries, presentationPart);
  const slidePaths = findElements(parseXml(presentation), 'p:sldId')
    .map((slide) => relationships.get(slide.attributes['r:id'] ?? '')?.target)
    .filter((target): target is string => target !== undefined && entries.has(target));

  const pages: ParsedPage[] = slidePaths.map((slidePath, index) => ({ number: index + 1, text: slideText(entries, slidePath, index + 1) }));
  const title = readCoreTitle(entries);
  return { type: 'pptx', pages, ...(title === undefined ? {} : { title }) };
}

function slideText(entries: ZipEntries, slidePath: string, number: number): string {
  const blocks = [`Slide ${number}`];
  const tree = findElements(parseXml(entryText(entries, slidePath) ?? ''), 'p:spTree')[0];
  if (tree !== undefined) blocks.push(...shapeTreeBlocks(tree));
  for (const related of readRelationships(entries, slidePath).values()) {
    if (related.external) continue;
    const part = entryText(entries, related.target);
    if (part === undefined) continue;
    if (related.type === 'notesSlide') {
      const notes = notesText(parseXml(part));
      if (notes !== '') blocks.push(`Notes: ${notes}`);
    } else if (related.type === 'comments') {
      // Classic comments keep their text in p:text, modern (threaded) ones in a text body.
      const comments = parseXml(part);
      for (const comment of findElements(comments, 'p:text')) blocks.push(`Comment: ${textContent(comment).trim()}`);
      for (const comment of findElements(comments, 'p188:txBody')) blocks.push(`Comment: ${paragraphsText(comment)}`);
    }
  }
  return blocks.filter((block) => block.trim() !== '').join('\n\n');
}

/** The text blocks of a shape tree in document order: shapes, groups, tables. */
function shapeTreeBlocks(tree: XmlElement): string[] {
  const blocks: string[] = [];
  for (const shape of childElements(tree)) {
    if (shape.name === 'p:sp' || shape.name === 'p:cxnSp') {
      const body = firstChild(shape, 'p:txBody');
      if (body !== undefined) blocks.push(paragraphsText(body));
    } else if (shape.name === 'p:grpSp') {
      blocks.push(...shapeTreeBlocks(shape));
    } else if (shape.name === 'p:graphicFrame') {
      for (const table of findElements(shape, 'a:tbl')) blocks.push(tableToText(tableRows(table)));
    } else if (shape.name === 'mc:AlternateContent') {
      // Choice and Fallback hold the same content: one of them.
      const choice = firstChild(shape, 'mc:Choice') ?? firstChild(shape, 'mc:Fallback');
      if (choice !== undefined) blocks.push(...shapeTreeBlocks(choice));
    }
  }
  return blocks;
}

/** The paragraphs of a text body, one line each; the runs of a paragraph are joined as they are. */
function paragraphsText(body: XmlElement): string {
  return findElements(body, 'a:p')
    .map((paragraph) => paragraphText(paragraph))
    .filter((line) => line.trim() !== '')
    .join('\n');
}

function paragraphText(paragraph: XmlElement): string {
  let text = '';
  for (const child of childElements(paragraph)) {
    if (child.name === 'a:r' || child.name === 'a:fld') text += textContent(firstChild(child, 'a:t') ?? { name: '', attributes: {}, children: [] });
    else if (child.name === 'a:br') text += '\n';
  }
  return text;
}

/** Rows of a table; `gridSpan`/`rowSpan` open a merged cell, `hMerge`/`vMerge` mark the cells it covers. */
function tableRows(table: XmlElement): TableCell[][] {
  return childElements(table, 'a:tr').map((row) =>
    childElements(row, 'a:tc')
      .filter((cell) => cell.attributes.hMerge !== '1' && cell.attributes.vMerge !== '1')
      .map((cell) => {
        const body = firstChild(cell, 'a:txBody');
        return {
          text: body === undefined ? '' : paragraphsText(body),
          columnSpan: Number(cell.attributes.gridSpan) || 1,
          rowSpan: Number(cell.attributes.rowSpan) || 1,
        };
      }),
  );
}

/** The notes page's body placeholder (not its slide image or page number). */
function notesText(notes: XmlElement): string {
  const texts: string[] = [];
  for (const shape of findElements(notes, 'p:sp')) {
    const placeholder = findElements(shape, 'p:ph')[0];
    if (placeholder?.attributes.type !== 'body') continue;
    const body = firstChild(shape, 'p:txBody');
    if (body !== undefined) texts.push(paragraphsText(body));
  }
  return texts.join('\n').trim();
}
