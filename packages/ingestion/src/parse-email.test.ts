import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DocumentError } from '@passage/spec';
import { parseDocument } from './parse-document.js';

const mail = (lines: string[]) => new TextEncoder().encode(lines.join('\r\n'));

describe('parseEmail through parseDocument', () => {
  test('reads an HTML-only message as text and decodes a Latin-1 subject', async () => {
    const document = await parseDocument(
      mail([
        'From: =?ISO-8859-1?Q?Ren=E9?= <rene@example.com>',
        'To: team@example.com',
        'Subject: =?ISO-8859-1?Q?Caf=E9_menu?=',
        'Date: Tue, 01 Dec 2026 10:00:00 +0000',
        'MIME-Version: 1.0',
        'Content-Type: text/html; charset=utf-8',
        '',
        '<html><body><p>Soup of the <b>day</b></p><script>x()</script></body></html>',
      ]),
      { fileName: 'menu.eml' },
    );
    assert.equal(document.type, 'email');
    assert.equal(document.title, 'Café menu');
    assert.match(
      document.pages[0]!.text,
      /^Subject: Café menu\nFrom: "?René"? <rene@example\.com>\nTo: team@example\.com\nDate: 2026-12-01T10:00:00\.000Z\n\nSoup of the day$/,
    );
  });

  test('lists an attachment it cannot read with the reason, and does not read attachments of attached e-mails', async () => {
    const inner = [
      'From: a@example.com',
      'To: b@example.com',
      'Subject: Inner',
      'Content-Type: multipart/mixed; boundary="in"',
      '',
      '--in',
      'Content-Type: text/plain',
      '',
      'Inner body',
      '--in',
      'Content-Type: text/plain; name="deep.txt"',
      'Content-Disposition: attachment; filename="deep.txt"',
      '',
      'Deep text',
      '--in--',
    ];
    const document = await parseDocument(
      mail([
        'From: a@example.com',
        'To: b@example.com',
        'Subject: Outer',
        'Content-Type: multipart/mixed; boundary="out"',
        '',
        '--out',
        'Content-Type: text/plain',
        '',
        'Outer body',
        '--out',
        'Content-Type: application/octet-stream; name="data.bin"',
        'Content-Disposition: attachment; filename="data.bin"',
        'Content-Transfer-Encoding: base64',
        '',
        Buffer.from([0, 1, 2, 3, 255, 254]).toString('base64'),
        '--out',
        'Content-Type: message/rfc822; name="inner.eml"',
        'Content-Disposition: attachment; filename="inner.eml"',
        '',
        ...inner,
        '--out--',
      ]),
      { fileName: 'outer.eml' },
    );
    const [first, attached] = document.pages;
    assert.match(first!.text, /data\.bin \(application\/octet-stream, 6 bytes\): not indexed, unsupported_type: /);
    assert.match(first!.text, /inner\.eml \(message\/rfc822, \d+ bytes\)$/);
    assert.equal(document.pages.length, 2);
    assert.match(attached!.text, /^Attachment: inner\.eml\n\nSubject: Inner/);
    assert.match(attached!.text, /Attachments:\ndeep\.txt \(text\/plain, \d+ bytes\)$/);
    assert.ok(!attached!.text.includes('Deep text'));
  });

  test('leaves out the images its HTML body embeds', async () => {
    const document = await parseDocument(
      mail([
        'From: a@example.com',
        'To: b@example.com',
        'Subject: Signed',
        'Content-Type: multipart/related; boundary="rel"',
        '',
        '--rel',
        'Content-Type: text/html',
        '',
        '<p>See you soon</p><img src="cid:logo@x">',
        '--rel',
        'Content-Type: image/png; name="logo.png"',
        'Content-ID: <logo@x>',
        'Content-Disposition: inline; filename="logo.png"',
        'Content-Transfer-Encoding: base64',
        '',
        Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).toString('base64'),
        '--rel--',
      ]),
      { fileName: 'signed.eml' },
    );
    assert.equal(document.pages.length, 1);
    assert.match(document.pages[0]!.text, /See you soon$/);
    assert.ok(!document.pages[0]!.text.includes('logo.png'));
  });

  test('an e-mail with neither body nor readable attachment still names its subject', async () => {
    const document = await parseDocument(mail(['From: a@example.com', 'To: b@example.com', 'Subject: Empty', '', '']), { fileName: 'x.eml' });
    assert.equal(document.pages[0]!.text, 'Subject: Empty\nFrom: a@example.com\nTo: b@example.com');
    await assert.rejects(
      parseDocument(new Uint8Array(0), { fileName: 'x.eml' }),
      (error: unknown) => error instanceof DocumentError && error.code === 'empty_document',
    );
  });
});
