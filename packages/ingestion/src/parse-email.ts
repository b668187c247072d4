import { DocumentError, type ParsedDocument, type ParsedPage } from '@passage/spec';
import { compile } from 'html-to-text';
import { simpleParser, type AddressObject, type Attachment } from 'mailparser';

/** Reads an attachment as a document of its own; rejects with the DocumentError it fails with. */
export type AttachmentReader = (bytes: Uint8Array, fileName: string, mediaType: string) => Promise<ParsedDocument>;

const htmlToText = compile({
  wordwrap: false,
  limits: { maxInputLength: Number.MAX_SAFE_INTEGER },
  selectors: [
    { selector: 'img', format: 'skip' },
    { selector: 'a', options: { ignoreHref: true, linkBrackets: false } },
  ],
});

/**
 * An e-mail (.eml, RFC 822/MIME) read with mailparser (nodemailer's parser: encodings, charsets,
 * multipart structure). Page 1 holds the headers that matter (Subject, From, To, Cc, Date), the
 * body (the text part, or the HTML part as text) and the list of attachments; each attachment
 * that `readAttachment` can read follows as further pages, each starting with
 * `Attachment: <name>`; images the HTML body embeds are skipped. An attachment that cannot be read is listed with the reason.
 */
export async function parseEmail(bytes: Uint8Array, readAttachment?: AttachmentReader): Promise<ParsedDocument> {
  let mail: Awaited<ReturnType<typeof simpleParser>>;
  try {
    mail = await simpleParser(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { skipImageLinks: true, skipTextLinks: true });
  } catch (error) {
    throw new DocumentError('document_corrupt', `The e-mail cannot be read: ${(error as Error).message}`, { cause: error });
  }
  const headerLines = [
    mail.subject === undefined ? undefined : `Subject: ${mail.subject}`,
    addressLine('From', mail.from),
    addressLine('To', mail.to),
    addressLine('Cc', mail.cc),
    mail.date === undefined ? undefined : `Date: ${mail.date.toISOString()}`,
  ].filter((line) => line !== undefined);
  const body = (mail.text ?? (typeof mail.html === 'string' ? htmlToText(mail.html) : '')).replace(/\r\n?/g, '\n').trim();

  const attachmentPages: ParsedPage[] = [];
  const attachmentLines: string[] = [];
  for (const [index, attachment] of mail.attachments.entries()) {
    // Images the HTML body shows (logos, signatures: `cid:` parts) are part of the body, not attachments.
    if (attachment.related === true) continue;
    const name = attachment.filename ?? `attachment-${index + 1}`;
    const description = `${name} (${attachment.contentType}, ${attachment.size} bytes)`;
    const pages = readAttachment === undefined ? undefined : await readAttachmentPages(attachment, name, readAttachment);
    if (pages === undefined || typeof pages === 'string') {
      attachmentLines.push(pages === undefined ? description : `${description}: not indexed, ${pages}`);
      continue;
    }
    attachmentLines.push(description);
    for (const page of pages) attachmentPages.push({ number: 0, text: `Attachment: ${name}\n\n${page.text}` });
  }
  const first = [headerLines.join('\n'), body, attachmentLines.length === 0 ? '' : `Attachments:\n${attachmentLines.join('\n')}`]
    .filter((block) => block !== '')
    .join('\n\n');
  const pages = [{ number: 1, text: first }, ...attachmentPages].map((page, index) => ({ number: index + 1, text: page.text }));
  return { type: 'email', pages, ...(mail.subject === undefined || mail.subject.trim() === '' ? {} : { title: mail.subject.trim() }) };
}

/** The attachment's pages, or why it could not be read. */
async function readAttachmentPages(attachment: Attachment, name: string, readAttachment: AttachmentReader): Promise<ParsedPage[] | string> {
  try {
    return (await readAttachment(attachment.content, name, attachment.contentType)).pages;
  } catch (error) {
    if (error instanceof DocumentError) return `${error.code}: ${error.message}`;
    throw error;
  }
}

function addressLine(label: string, address: AddressObject | AddressObject[] | undefined): string | undefined {
  if (address === undefined) return undefined;
  const text = (Array.isArray(address) ? address : [address]).map((item) => item.text).join(', ');
  return text === '' ? undefined : `${label}: ${text}`;
}
