/** owncastChatKey is the localStorage key under which this browser keeps an
 * Owncast chat registration (lib/owncast): one for the guest (no account
 * id), one per signed-in account, which chats as itself. lib/together
 * forgets an account's on logout, since the server deletes its token with
 * the session. Registrations already stored live under these keys: keep
 * them as they are. */
export function owncastChatKey(accountID?: string): string {
  return accountID ? `owncast_chat:${accountID}` : "owncast_chat";
}
