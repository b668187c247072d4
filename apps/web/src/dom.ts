type Child = Node | string | null | undefined | false;

/**
 * Creates an element with attributes and children. Text is always set as text, never as HTML, so
 * document names, passages and answers cannot inject markup. `true` sets an empty attribute,
 * `false` and undefined leave it out.
 */
export function element<Tag extends keyof HTMLElementTagNameMap>(
  tag: Tag,
  attributes: Record<string, string | number | boolean | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[Tag] {
  const created = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    created.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    created.append(child);
  }
  return created;
}

/** The element with this id, which index.html declares: a missing one is a bug of the page. */
export function byId<Type extends HTMLElement>(id: string, type: new () => Type): Type {
  const found = document.getElementById(id);
  if (!(found instanceof type)) throw new Error(`index.html has no ${type.name} #${id}`);
  return found;
}

const han = /\p{Script=Han}/u;
const kana = /[\p{Script=Hiragana}\p{Script=Katakana}]/u;
const hangul = /\p{Script=Hangul}/u;

/**
 * The language to declare on a piece of text, so the browser picks CJK fonts and line breaking
 * rules for it: `ja` with kana, `ko` with Hangul, `zh` with Han alone; undefined otherwise (the
 * page's own `en`). Han characters are drawn differently in Chinese and Japanese fonts.
 */
export function languageOf(text: string): string | undefined {
  if (kana.test(text)) return 'ja';
  if (hangul.test(text)) return 'ko';
  if (han.test(text)) return 'zh';
  return undefined;
}

/** Sets or clears `lang` on an element from its text. */
export function declareLanguage(target: HTMLElement, text: string): void {
  const language = languageOf(text);
  if (language === undefined) target.removeAttribute('lang');
  else target.lang = language;
}
