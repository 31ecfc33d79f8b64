// Helpers of the profile pages (web's): how a profile is named and read.

/** identityOf returns a profile's first identity of a type (user_id, email…). */
export function identityOf(p, type) {
  const id = (p.identities || []).find((i) => i.type === type);
  return id ? id.value : '';
}

/** displayName names a profile for people: its name trait, first and last
 * name, email, user id, else its profile id. */
export function displayName(p) {
  const t = p.traits || {};
  const full = [t.first_name || t.firstName, t.last_name || t.lastName].filter(Boolean).join(' ');
  return String(t.name || full || t.email || identityOf(p, 'email') || identityOf(p, 'user_id') || p.id);
}
