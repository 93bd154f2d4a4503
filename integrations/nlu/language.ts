/**
 * Per-message language detection, Spanish or English. Chat messages are short ("ok", "bye", "wifi no jala"),
 * where trigram statistics alone guess poorly, so common function words and Spanish orthography vote first;
 * NLP.js's trigram guesser (`@nlpjs/language`, limited to es/en) breaks ties on longer texts, then the
 * caller's locale hint, then Spanish (the municipality's language).
 */
import { Language } from '@nlpjs/language';
import { fold } from './text.ts';

const ES = new Set(
  `el la los las de del que y en un una unos es no por para con mi mis me se lo le su sus al hay esta estan este esto
  como donde cuando quiero quisiera necesito ocupo tengo tiene hola gracias buenas buenos dias tardes noches porfa
  favor calle colonia reporte reportar queja folio ayuda si ya pero muy mas sin agua luz basura bache parque pasa
  paso nada todo hace desde puedo pueden puede quien cual sirve funciona jala prende cuanto cuesta requisitos tramite
  tramites permiso hablar persona alguien avisos mandar mande manden adios hasta luego nos vemos ahi aqui oigan oye
  pues bueno vale tambien porque xq pq q ke pa eso ese esa estoy soy son fue era van vamos hoy ayer manana semana
  mes vecino vecinos casa escuela mujer esposo pareja miedo violencia amenaza usted ustedes atiende atender
  llevo lleva reporte sigue seguimiento cancelar salir olvidalo chao saludos disculpe oiga ola holi holis bnas
  necesitamos queremos tenemos estamos somos nuestra nuestro ni o le les te tu`
    .split(/\s+/)
    .filter(Boolean),
);

const EN = new Set(
  `the a an is are was were be been to of and in on at my me i i'm im you your it its it's this that there with for
  not can could how what where when who why do does did please thanks thank hello hi hey bye goodbye help want need
  report street light lights water trash garbage park since about any update check status case talk speak real person
  human agent someone sign up stop messages unsubscribe subscribe alerts notices down working broken fix near
  house home neighbor neighbour neighbors my partner husband boyfriend scared afraid hits threatened office open
  hours cost much many get apply permit license licence tax pay online documents weather tomorrow today yesterday
  again have has had from just still no yes ok okay great good morning evening night see you later cheers
  would like know tell send me us our we they them he she his her outage slow signal free pothole leak noise dog
  dogs tree trees been days week weeks month`
    .split(/\s+/)
    .filter(Boolean),
);

/** Words both languages use in chat; they never vote. */
const NEUTRAL = new Set([
  'wifi',
  'internet',
  'ok',
  'okay',
  'menu',
  'no',
  'bye',
  'stop',
  'hotspot',
  'a',
  'me',
  'e',
]);

const guesser = new Language();

/** Detect the language of one message. `hint` is the conversation's locale (`es-MX`, `en`), used for ties. */
export function detectLanguage(text: string, hint?: string): 'es' | 'en' {
  const hinted: 'es' | 'en' | undefined = hint?.toLowerCase().startsWith('en')
    ? 'en'
    : hint?.toLowerCase().startsWith('es')
      ? 'es'
      : undefined;
  const sample = text.length > 400 ? text.slice(0, 400) : text;
  let es = /[ñ¿¡áéíóú]/i.test(sample) ? 2 : 0;
  let en = /\b(i'm|don't|doesn't|isn't|can't|won't|it's|there's|what's)\b/i.test(sample) ? 2 : 0;
  const ws = fold(sample)
    .text.split(/[^a-z0-9']+/)
    .filter(Boolean);
  for (const w of ws) {
    if (NEUTRAL.has(w)) continue;
    if (ES.has(w)) es += 1;
    if (EN.has(w)) en += 1;
  }
  if (es !== en) {
    // One stray English word in a Spanish sentence ("el wifi is down" is rare; "ok gracias" common) should not
    // flip the language of a message with a clear majority.
    return es > en ? 'es' : 'en';
  }
  // Trigram statistics are unreliable on a few words ("asesor humano" looks English to them): there the
  // conversation's locale decides.
  const letters = sample.replace(/[^\p{L}]/gu, '');
  if (letters.length >= (hinted ? 25 : 12)) {
    const g = guesser.guess(sample, ['es', 'en'], 2);
    const top = g[0];
    const second = g[1];
    if (top && (!second || top.score - second.score > 0.1)) return top.alpha2 === 'en' ? 'en' : 'es';
  }
  return hinted ?? 'es';
}
