import { byId } from './dom.js';

/** Asks before something is deleted; resolves true when the user confirms. */
export function confirmDeletion(message: string, actionLabel: string): Promise<boolean> {
  const dialog = byId('confirm-dialog', HTMLDialogElement);
  byId('confirm-message', HTMLParagraphElement).textContent = message;
  byId('confirm-button', HTMLButtonElement).textContent = actionLabel;
  const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  dialog.returnValue = '';
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener(
      'close',
      () => {
        if (opener?.isConnected === true) opener.focus();
        resolve(dialog.returnValue === 'confirm');
      },
      { once: true },
    );
  });
}
