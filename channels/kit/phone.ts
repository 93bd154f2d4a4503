/** Phone numbers as one E.164 shape, so the same person on WhatsApp, SMS and voice is one contact. */

/**
 * Normalise a provider's phone (`5212291234567`, `+52 229 123 4567`, `whatsapp:+52…`) to E.164, or null.
 * Why the Mexican special case: WhatsApp still reports Mexican mobiles with the old mobile prefix `1` after the
 * country code (`521` + 10 digits) while SMS and voice use `52` + 10 digits; both are the same line.
 */
export function normalizePhone(raw: string | undefined | null): string | null {
  if (!raw) return null;
  const digits = raw.replace(/^(whatsapp|sms|tel):/i, '').replace(/[^\d+]/g, '');
  let d = digits.startsWith('+') ? digits.slice(1) : digits.startsWith('00') ? digits.slice(2) : digits;
  if (!/^\d+$/.test(d)) return null;
  if (d.length === 10 && !digits.startsWith('+')) d = `52${d}`; // a bare Mexican 10-digit number
  if (d.startsWith('521') && d.length === 13) d = `52${d.slice(3)}`;
  return /^[1-9]\d{7,14}$/.test(d) ? `+${d}` : null;
}
