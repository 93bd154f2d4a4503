/**
 * Ventanilla web-chat widget: a framework-free script a city embeds with
 *   <script src="https://ventanilla.example.gob.mx/widget.js" defer></script>
 * Optional attributes on that tag: `data-server` (base URL of the Ventanilla server; default: where the script came
 * from), `data-exit-url` (where "Salida rápida" goes), `data-municipality` (shown in the header).
 *
 * It talks to the `/webchat` socket.io namespace (protocol in `channels/webchat.ts`) and uploads photos to
 * `POST /webchat/uploads`. Everything it renders from the network goes through `textContent`, never `innerHTML`.
 * Bundled by main.ts with esbuild (iife, es2019/safari13): avoid APIs newer than Safari 13 without a fallback.
 */
import { io } from 'socket.io-client';
import type { Socket } from 'socket.io-client';
import type { ChatMessageDto, ClientMessage, SendAck } from '../webchat.ts';

// ---------------------------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------------------------

const SESSION_KEY = 'ventanilla.session';
const STORAGE_PREFIX = 'ventanilla.';
const DEFAULT_EXIT_URL = 'https://www.google.com/search?q=clima';
const MAX_PHOTO_BYTES = 10 * 1024 * 1024;
const ACK_TIMEOUT_MS = 15_000;
const RETRY_DELAYS_MS = [0, 1_000, 2_000, 4_000, 8_000];
const RETRYABLE = new Set(['CHANNEL_UNAVAILABLE', 'DIALOG_SHUTTING_DOWN']);
const ESCAPES_FOR_EXIT = 3;
const ESCAPE_WINDOW_MS = 1_500;

/** Captured while the script runs: `document.currentScript` is null afterwards. */
const SCRIPT: HTMLScriptElement | null =
  (document.currentScript as HTMLScriptElement | null) ??
  document.querySelector<HTMLScriptElement>('script[src*="widget.js"]');

interface WidgetConfig {
  /** Base URL without trailing slash, e.g. `https://ventanilla.example.gob.mx` or `https://city.gob.mx/ventanilla`. */
  readonly base: string;
  readonly origin: string;
  readonly socketPath: string;
  readonly exitUrl: string;
  readonly municipality: string;
}

function readConfig(): WidgetConfig {
  const attr = (name: string): string | undefined => SCRIPT?.getAttribute(name)?.trim() || undefined;
  let base: URL;
  try {
    const server = attr('data-server');
    if (server) base = new URL(server, location.href);
    else if (SCRIPT?.src) {
      base = new URL(SCRIPT.src, location.href);
      base.pathname = base.pathname.replace(/\/[^/]*$/, '/');
    } else base = new URL('/', location.href);
  } catch {
    base = new URL('/', location.href);
  }
  const path = base.pathname.replace(/\/+$/, '');
  return {
    base: base.origin + path,
    origin: base.origin,
    socketPath: `${path}/socket.io`,
    exitUrl: attr('data-exit-url') ?? DEFAULT_EXIT_URL,
    municipality: attr('data-municipality') ?? '',
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Texts
// ---------------------------------------------------------------------------------------------------------------

const es = {
  title: 'Ventanilla',
  open: 'Abrir chat de atención ciudadana',
  close: 'Cerrar chat',
  minimize: 'Minimizar chat',
  quickExit: 'Salida rápida',
  quickExitHint:
    'Sale de inmediato a otra página y borra esta conversación de este dispositivo. También puedes pulsar Esc tres veces.',
  inputLabel: 'Escribe tu mensaje',
  placeholder: 'Escribe tu mensaje…',
  send: 'Enviar mensaje',
  attach: 'Adjuntar foto',
  location: 'Compartir mi ubicación',
  online: 'En línea',
  connecting: 'Conectando…',
  reconnecting: 'Reconectando…',
  connectionLost: 'Se perdió la conexión. Reconectando… Tus mensajes se enviarán al volver.',
  notAllowed: 'El chat no está disponible en este sitio.',
  tooManyConnections: 'Hay demasiadas conexiones desde tu red. Reintentamos en unos segundos.',
  intro:
    'Reporta baches, alumbrado, basura, fugas de agua y más, o consulta cómo va tu folio. Escribe «hola» para empezar.',
  notice:
    'Asistente automático {of}. No compartas contraseñas ni datos bancarios. Si estás en peligro, llama al 911.',
  noticeOf: 'del {m}',
  noticeDefault: 'del municipio',
  botName: 'Ventanilla',
  you: 'Tú',
  botSaid: 'Ventanilla dijo:',
  youSaid: 'Tú dijiste:',
  options: 'Opciones',
  typing: 'Ventanilla está escribiendo…',
  sending: 'Enviando…',
  sent: 'Enviado',
  waiting: 'Esperando conexión…',
  uploading: 'Subiendo foto…',
  failed: 'No se envió.',
  retry: 'Reintentar',
  sendFailed: 'No pudimos enviar tu mensaje. Revisa tu conexión e inténtalo de nuevo.',
  rateLimited: 'Estás enviando mensajes muy rápido. Espera unos segundos e inténtalo de nuevo.',
  invalid: 'No pudimos procesar ese mensaje.',
  chatError: 'Ocurrió un problema con el chat. Inténtalo de nuevo en un momento.',
  photo: 'Foto',
  photoAlt: 'Foto que enviaste',
  botPhotoAlt: 'Imagen enviada por Ventanilla',
  photoTooLarge: 'La foto pesa más de 10 MB. Elige una más ligera o tómala con menor resolución.',
  photoNotImage: 'Solo se pueden enviar fotos (JPG, PNG, WebP o GIF).',
  photoFailed: 'No se pudo subir la foto. Inténtalo de nuevo.',
  photoRateLimited: 'Enviaste varias fotos seguidas. Espera un momento e inténtalo de nuevo.',
  photoInvalid: 'No pudimos leer ese archivo como imagen. Prueba con otra foto.',
  locationShared: 'Ubicación compartida',
  locating: 'Obteniendo tu ubicación…',
  locationDenied: 'No diste permiso para usar tu ubicación. Puedes escribir la calle y la colonia.',
  locationUnavailable: 'No pudimos obtener tu ubicación. Escribe la calle y la colonia, por favor.',
  locationUnsupported: 'Tu navegador no permite compartir la ubicación. Escribe la calle y la colonia.',
  newMessage: 'mensaje nuevo',
  openLink: 'Abrir archivo',
  dismiss: 'Cerrar aviso',
};
type Texts = typeof es;

const en: Texts = {
  title: 'Ventanilla',
  open: 'Open citizen services chat',
  close: 'Close chat',
  minimize: 'Minimize chat',
  quickExit: 'Quick exit',
  quickExitHint:
    'Leaves this page at once and erases this conversation from this device. You can also press Esc three times.',
  inputLabel: 'Type your message',
  placeholder: 'Type your message…',
  send: 'Send message',
  attach: 'Attach photo',
  location: 'Share my location',
  online: 'Online',
  connecting: 'Connecting…',
  reconnecting: 'Reconnecting…',
  connectionLost: 'Connection lost. Reconnecting… Your messages will be sent when it is back.',
  notAllowed: 'The chat is not available on this site.',
  tooManyConnections: 'Too many connections from your network. Retrying in a few seconds.',
  intro:
    'Report potholes, street lights, garbage, water leaks and more, or check how your case is going. Type “hello” to start.',
  notice: 'Automated assistant {of}. Never share passwords or bank details. If you are in danger, call 911.',
  noticeOf: 'of {m}',
  noticeDefault: 'of the municipality',
  botName: 'Ventanilla',
  you: 'You',
  botSaid: 'Ventanilla said:',
  youSaid: 'You said:',
  options: 'Options',
  typing: 'Ventanilla is typing…',
  sending: 'Sending…',
  sent: 'Sent',
  waiting: 'Waiting for connection…',
  uploading: 'Uploading photo…',
  failed: 'Not sent.',
  retry: 'Retry',
  sendFailed: 'We could not send your message. Check your connection and try again.',
  rateLimited: 'You are sending messages too fast. Wait a few seconds and try again.',
  invalid: 'We could not process that message.',
  chatError: 'Something went wrong with the chat. Please try again in a moment.',
  photo: 'Photo',
  photoAlt: 'Photo you sent',
  botPhotoAlt: 'Image sent by Ventanilla',
  photoTooLarge: 'The photo is larger than 10 MB. Choose a smaller one or take it at a lower resolution.',
  photoNotImage: 'Only photos can be sent (JPG, PNG, WebP or GIF).',
  photoFailed: 'The photo could not be uploaded. Please try again.',
  photoRateLimited: 'You sent several photos in a row. Wait a moment and try again.',
  photoInvalid: 'That file could not be read as an image. Try another photo.',
  locationShared: 'Location shared',
  locating: 'Getting your location…',
  locationDenied: 'Location permission was denied. You can type the street and neighbourhood instead.',
  locationUnavailable: 'We could not get your location. Please type the street and neighbourhood.',
  locationUnsupported: 'Your browser cannot share your location. Please type the street and neighbourhood.',
  newMessage: 'new message',
  openLink: 'Open file',
  dismiss: 'Dismiss notice',
};

const LOCALE = (typeof navigator !== 'undefined' && navigator.language) || 'es-MX';
const T: Texts = /^en\b/i.test(LOCALE) ? en : es;
const LANG = T === en ? 'en' : 'es-MX';

// ---------------------------------------------------------------------------------------------------------------
// Small utilities
// ---------------------------------------------------------------------------------------------------------------

/** A v4 uuid; `crypto.randomUUID` only exists in secure contexts and newer browsers. */
function uuid(): string {
  const c: Crypto | undefined = typeof crypto !== 'undefined' ? crypto : undefined;
  if (c && typeof c.randomUUID === 'function') {
    try {
      return c.randomUUID();
    } catch {
      // Insecure context: fall through.
    }
  }
  const b = new Uint8Array(16);
  if (c && typeof c.getRandomValues === 'function') c.getRandomValues(b);
  else for (let i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const h: string[] = [];
  for (let i = 0; i < 16; i++) h.push(((b[i] ?? 0) + 0x100).toString(16).slice(1));
  return `${h.slice(0, 4).join('')}-${h.slice(4, 6).join('')}-${h.slice(6, 8).join('')}-${h.slice(8, 10).join('')}-${h.slice(10).join('')}`;
}

/** localStorage can throw (Safari private mode, blocked third-party storage): never let that break the chat. */
const store = {
  get(key: string): string | null {
    try {
      return window.localStorage.getItem(key);
    } catch {
      return null;
    }
  },
  set(key: string, value: string): void {
    try {
      window.localStorage.setItem(key, value);
    } catch {
      // Session lasts for this page only.
    }
  },
  wipe(): void {
    for (const storage of [safeStorage('localStorage'), safeStorage('sessionStorage')]) {
      if (!storage) continue;
      try {
        storage.removeItem(SESSION_KEY);
        const keys: string[] = [];
        for (let i = 0; i < storage.length; i++) {
          const k = storage.key(i);
          if (k && k.indexOf(STORAGE_PREFIX) === 0) keys.push(k);
        }
        for (const k of keys) storage.removeItem(k);
      } catch {
        // Nothing else we can do.
      }
    }
  },
};

function safeStorage(name: 'localStorage' | 'sessionStorage'): Storage | undefined {
  try {
    return window[name];
  } catch {
    return undefined;
  }
}

type Attrs = Record<string, string | boolean | undefined>;

function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  cls?: string,
  attrs: Attrs = {},
  text?: string,
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (cls) el.className = cls;
  for (const k of Object.keys(attrs)) {
    const v = attrs[k];
    if (v === undefined || v === false) continue;
    el.setAttribute(k, v === true ? '' : v);
  }
  if (text !== undefined) el.textContent = text;
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
const ICONS = {
  chat: ['M21 15a2 2 0 0 1-2 2H7l-4 4V5a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2z', 'M8 9h8', 'M8 13h5'],
  close: ['M18 6 6 18', 'M6 6l12 12'],
  down: ['M6 9l6 6 6-6'],
  send: ['M22 2 11 13', 'M22 2l-7 20-4-9-9-4z'],
  camera: [
    'M23 19a2 2 0 0 1-2 2H3a2 2 0 0 1-2-2V8a2 2 0 0 1 2-2h4l2-3h6l2 3h4a2 2 0 0 1 2 2z',
    'M12 17a4 4 0 1 0 0-8 4 4 0 0 0 0 8z',
  ],
  pin: ['M21 10c0 7-9 13-9 13s-9-6-9-13a9 9 0 0 1 18 0z', 'M12 13a3 3 0 1 0 0-6 3 3 0 0 0 0 6z'],
  exit: ['M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4', 'M16 17l5-5-5-5', 'M21 12H9'],
  building: ['M3 21h18', 'M5 21V10', 'M19 21V10', 'M9.5 21v-6h5v6', 'M2 10l10-7 10 7z'],
  alert: ['M12 8v5', 'M12 16.5h.01', 'M12 22a10 10 0 1 0 0-20 10 10 0 0 0 0 20z'],
  shield: ['M12 22s8-4 8-10V5l-8-3-8 3v7c0 6 8 10 8 10z'],
  check: ['M20 6 9 17l-5-5'],
} as const;

function icon(name: keyof typeof ICONS, cls = 'vtn-icon'): SVGSVGElement {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', cls);
  for (const d of ICONS[name]) {
    const p = document.createElementNS(SVG_NS, 'path');
    p.setAttribute('d', d);
    svg.appendChild(p);
  }
  return svg;
}

function clear(el: Element): void {
  while (el.firstChild) el.removeChild(el.firstChild);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function timeOf(iso: string | undefined): string {
  const d = iso ? new Date(iso) : new Date();
  if (isNaN(d.getTime())) return '';
  try {
    return new Intl.DateTimeFormat(LANG, { hour: 'numeric', minute: '2-digit' }).format(d);
  } catch {
    return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
  }
}

function safeUrl(raw: string | undefined, base: string): string | undefined {
  if (!raw) return undefined;
  try {
    const u = new URL(raw, `${base}/`);
    return u.protocol === 'https:' || u.protocol === 'http:' || u.protocol === 'blob:' ? u.href : undefined;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Styles (one <style>, every selector under .vtn-)
// ---------------------------------------------------------------------------------------------------------------

const CSS = `
.vtn-root{all:initial;font-family:-apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,"Noto Sans","Helvetica Neue",Arial,sans-serif;font-size:15px;line-height:1.45;color:#1b1f23;-webkit-font-smoothing:antialiased;-webkit-text-size-adjust:100%}
.vtn-root *,.vtn-root *::before,.vtn-root *::after{box-sizing:border-box;font-family:inherit;letter-spacing:normal;text-transform:none}
.vtn-root button{font:inherit;color:inherit;margin:0;cursor:pointer;-webkit-appearance:none;appearance:none;background:none;border:0;padding:0;text-align:inherit;line-height:inherit;min-width:0;min-height:0;box-shadow:none;text-decoration:none}
.vtn-root button:disabled{cursor:default}
.vtn-root :focus{outline:3px solid #1a5fd6;outline-offset:2px}
.vtn-root :focus:not(:focus-visible){outline:none}
.vtn-root :focus-visible{outline:3px solid #1a5fd6;outline-offset:2px}
.vtn-root .vtn-icon{width:20px;height:20px;fill:none;stroke:currentColor;stroke-width:2;stroke-linecap:round;stroke-linejoin:round;flex:none;display:block}
.vtn-root .vtn-sr{position:absolute!important;width:1px!important;height:1px!important;padding:0!important;margin:-1px!important;overflow:hidden!important;clip:rect(0 0 0 0)!important;white-space:nowrap!important;border:0!important}

.vtn-root .vtn-launcher{position:fixed;right:24px;bottom:24px;z-index:2147483000;display:flex;align-items:center;padding:0 20px 0 16px;height:56px;border-radius:28px;background:#235b4e;color:#fff;box-shadow:0 6px 20px rgba(16,40,34,.28),0 2px 6px rgba(16,40,34,.2);font-weight:600;font-size:15px;transition:background-color .15s,transform .15s}
.vtn-root .vtn-launcher{background:#235b4e;color:#fff}
.vtn-root .vtn-launcher:hover{background:#1a463c}
.vtn-root .vtn-launcher .vtn-icon{width:24px;height:24px;margin-right:10px}
.vtn-root .vtn-launcher-label{white-space:nowrap}
.vtn-root .vtn-launcher:focus-visible{outline:3px solid #1a5fd6;outline-offset:3px}
.vtn-root .vtn-badge{position:absolute;top:-4px;right:-4px;min-width:22px;height:22px;padding:0 6px;border-radius:11px;background:#9f2241;color:#fff;font-size:12px;font-weight:700;line-height:22px;text-align:center;border:2px solid #fff}
.vtn-root .vtn-badge[hidden]{display:none}
.vtn-root.vtn-open .vtn-launcher .vtn-launcher-label{display:none}
.vtn-root.vtn-open .vtn-launcher{padding:0;width:56px;justify-content:center}
.vtn-root.vtn-open .vtn-launcher .vtn-icon{margin:0}

.vtn-root .vtn-panel{position:fixed;right:24px;bottom:96px;z-index:2147483001;width:400px;height:640px;max-height:calc(100vh - 120px);display:flex;flex-direction:column;background:#fff;border-radius:16px;overflow:hidden;box-shadow:0 18px 50px rgba(15,23,30,.28),0 4px 12px rgba(15,23,30,.12);border:1px solid rgba(15,23,30,.08);margin:0;padding:0}
.vtn-root .vtn-panel[hidden]{display:none}

.vtn-root .vtn-header{display:flex;align-items:center;padding:12px 12px 12px 16px;background:#235b4e;color:#fff;flex:none}
.vtn-root .vtn-header :focus-visible{outline-color:#ffd166}
.vtn-root .vtn-header :focus{outline-color:#ffd166}
.vtn-root .vtn-avatar{width:40px;height:40px;border-radius:50%;background:rgba(255,255,255,.16);display:flex;align-items:center;justify-content:center;flex:none;margin-right:12px}
.vtn-root .vtn-avatar .vtn-icon{width:22px;height:22px}
.vtn-root .vtn-heading{flex:1 1 auto;min-width:0}
.vtn-root .vtn-title{display:block;font-size:16px;font-weight:700;line-height:1.25;margin:0;color:#fff}
.vtn-root .vtn-status{display:flex;align-items:center;font-size:12.5px;line-height:1.3;color:#e3efe9;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.vtn-root .vtn-status-text{overflow:hidden;text-overflow:ellipsis}
.vtn-root .vtn-dot{width:8px;height:8px;border-radius:50%;background:#f4c542;margin-right:6px;flex:none}
.vtn-root .vtn-online .vtn-dot{background:#6fe3a6}
.vtn-root .vtn-exit{display:flex;align-items:center;height:36px;padding:0 12px;margin-left:8px;border-radius:8px;font-size:14px;font-weight:700;white-space:nowrap;flex:none}
.vtn-root .vtn-exit{background:#fff;color:#8a1538;border:1px solid #fff}
.vtn-root .vtn-exit:hover{background:#fbe9ee}
.vtn-root .vtn-exit .vtn-icon{width:18px;height:18px;margin-right:6px}
.vtn-root .vtn-close{display:flex;align-items:center;justify-content:center;width:40px;height:40px;margin-left:4px;border-radius:8px;flex:none}
.vtn-root .vtn-close{color:#fff}
.vtn-root .vtn-close:hover{background:rgba(255,255,255,.14)}

.vtn-root .vtn-banner{display:flex;align-items:flex-start;padding:10px 14px;font-size:13.5px;line-height:1.4;background:#fff4d6;color:#5c4300;border-bottom:1px solid #f0dca2;flex:none}
.vtn-root .vtn-banner[hidden]{display:none}
.vtn-root .vtn-banner.vtn-banner--error{background:#fdecef;color:#7a1030;border-bottom-color:#f3c6d1}
.vtn-root .vtn-banner .vtn-icon{width:18px;height:18px;margin:1px 8px 0 0}
.vtn-root .vtn-banner-text{flex:1 1 auto}

.vtn-root .vtn-scroll{flex:1 1 auto;overflow-y:auto;overflow-x:hidden;-webkit-overflow-scrolling:touch;overscroll-behavior:contain;padding:16px 14px 8px;background:#f5f6f7}
.vtn-root .vtn-notice{display:flex;align-items:flex-start;margin:0 0 14px;padding:10px 12px;border-radius:10px;background:#fff;border:1px solid #e1e4e8;color:#444d56;font-size:13px;line-height:1.4}
.vtn-root .vtn-notice .vtn-icon{width:18px;height:18px;margin:1px 8px 0 0;color:#235b4e}
.vtn-root .vtn-intro{margin:4px 4px 14px;color:#444d56;font-size:14px;text-align:center}
.vtn-root .vtn-intro[hidden]{display:none}
.vtn-root .vtn-log{display:block;margin:0;padding:0}

.vtn-root .vtn-msg{display:flex;flex-direction:column;margin:0 0 10px;max-width:100%}
.vtn-root .vtn-msg--out{align-items:flex-start}
.vtn-root .vtn-msg--in{align-items:flex-end}
.vtn-root .vtn-bubble{max-width:85%;padding:9px 13px;border-radius:16px;white-space:pre-wrap;overflow-wrap:break-word;word-wrap:break-word;word-break:break-word;font-size:15px;line-height:1.45}
.vtn-root .vtn-msg--out .vtn-bubble{background:#fff;color:#1b1f23;border:1px solid #e1e4e8;border-bottom-left-radius:4px}
.vtn-root .vtn-msg--in .vtn-bubble{background:#235b4e;color:#fff;border-bottom-right-radius:4px}
.vtn-root .vtn-msg--failed .vtn-bubble{background:#6b7075}
.vtn-root .vtn-photo{display:block;width:200px;max-width:100%;height:auto;min-height:48px;max-height:260px;object-fit:cover;border-radius:12px;margin:0;background:rgba(255,255,255,.2)}
.vtn-root .vtn-bubble.vtn-bubble--photo{padding:4px}
.vtn-root .vtn-bubble--photo .vtn-caption{padding:2px 8px 4px}
.vtn-root .vtn-photo-label{display:flex;align-items:center}
.vtn-root .vtn-photo-label .vtn-icon,.vtn-root .vtn-loc .vtn-icon{width:18px;height:18px;margin-right:6px}
.vtn-root .vtn-loc{display:flex;align-items:center}
.vtn-root .vtn-caption{display:block;margin-top:6px}
.vtn-root .vtn-bubble a{color:inherit;text-decoration:underline}
.vtn-root .vtn-meta{font-size:11.5px;color:#5f6770;margin:3px 4px 0;display:flex;align-items:center}
.vtn-root .vtn-meta .vtn-icon{width:14px;height:14px;margin-left:4px}
.vtn-root .vtn-meta-error{color:#a1112f;font-weight:600}
.vtn-root .vtn-retry{margin-left:8px;color:#1a5fd6;text-decoration:underline;font-size:12px;font-weight:600;padding:2px}

.vtn-root .vtn-choices{display:flex;flex-wrap:wrap;max-width:92%;margin:8px 0 0}
.vtn-root .vtn-choice{display:inline-flex;align-items:center;min-height:36px;padding:7px 14px;margin:0 6px 6px 0;border-radius:18px;font-size:14px;line-height:1.3;font-weight:600;text-align:left;transition:background-color .12s}
.vtn-root .vtn-choice{background:#fff;color:#1c4a3f;border:1.5px solid #235b4e}
.vtn-root .vtn-choice:hover:not(:disabled){background:#e8f2ee}
.vtn-root .vtn-choice:disabled{border-color:#d6dadd;color:#5f6770;background:#fafbfb}
.vtn-root .vtn-choice.vtn-chosen{background:#e8f2ee;border-color:#235b4e;color:#1c4a3f}
.vtn-root .vtn-choice .vtn-icon{width:16px;height:16px;margin-right:6px}

.vtn-root .vtn-typing{display:flex;align-items:center;margin:0 0 10px}
.vtn-root .vtn-typing[hidden]{display:none}
.vtn-root .vtn-typing-bubble{display:flex;align-items:center;padding:12px 14px;border-radius:16px;border-bottom-left-radius:4px;background:#fff;border:1px solid #e1e4e8}
.vtn-root .vtn-typing-bubble span{width:7px;height:7px;margin:0 2px;border-radius:50%;background:#6b7580;animation:vtn-blink 1.2s infinite ease-in-out}
.vtn-root .vtn-typing-bubble span:nth-child(2){animation-delay:.15s}
.vtn-root .vtn-typing-bubble span:nth-child(3){animation-delay:.3s}
@keyframes vtn-blink{0%,80%,100%{opacity:.3;transform:translateY(0)}40%{opacity:1;transform:translateY(-3px)}}

.vtn-root .vtn-composer{display:flex;align-items:flex-end;padding:10px 10px 10px 8px;border-top:1px solid #e1e4e8;background:#fff;flex:none;margin:0}
.vtn-root .vtn-tool{display:flex;align-items:center;justify-content:center;width:40px;height:44px;border-radius:10px;flex:none}
.vtn-root .vtn-tool{color:#3d4750}
.vtn-root .vtn-tool:hover:not(:disabled){background:#eef1f3;color:#1b1f23}
.vtn-root .vtn-tool:disabled{color:#a3abb3}
.vtn-root .vtn-input{flex:1 1 auto;min-width:0;margin:0 6px 0 4px;padding:11px 14px;min-height:44px;max-height:140px;resize:none;border:1px solid #8a949e;border-radius:22px;background:#fff;color:#1b1f23;font:inherit;font-size:16px;line-height:1.35;white-space:pre-wrap;overflow-y:auto;display:block;box-shadow:none;-webkit-appearance:none;appearance:none}
.vtn-root .vtn-input:focus{outline:none;border-color:#1a5fd6;box-shadow:0 0 0 1px #1a5fd6}
.vtn-root .vtn-input::placeholder{color:#6a737d;opacity:1}
.vtn-root .vtn-send{display:flex;align-items:center;justify-content:center;width:44px;height:44px;border-radius:50%;flex:none}
.vtn-root .vtn-send{background:#235b4e;color:#fff}
.vtn-root .vtn-send:hover:not(:disabled){background:#1a463c}
.vtn-root .vtn-send:disabled{background:#c4cbd1;color:#fff}
.vtn-root .vtn-send .vtn-icon{width:20px;height:20px;margin-left:-2px}
/* Not display:none: some mobile browsers ignore click() on hidden file inputs. */
.vtn-root .vtn-file{position:absolute;width:1px;height:1px;opacity:0;overflow:hidden;pointer-events:none;left:-9999px}

@media (max-width:480px){
  .vtn-root .vtn-panel{top:0;right:0;bottom:0;left:0;width:100%;height:100%;height:100dvh;max-height:none;border-radius:0;border:0;padding-bottom:env(safe-area-inset-bottom)}
  .vtn-root .vtn-header{padding-top:calc(10px + env(safe-area-inset-top))}
  .vtn-root.vtn-open .vtn-launcher{display:none}
  .vtn-root .vtn-launcher{right:16px;bottom:16px}
  .vtn-root .vtn-bubble{max-width:88%}
  html.vtn-lock,html.vtn-lock body{overflow:hidden!important}
}
@media (max-width:360px){
  .vtn-root .vtn-exit{padding:0 8px;font-size:13px}
  .vtn-root .vtn-exit .vtn-icon{display:none}
}
@media (max-height:560px) and (min-width:481px){
  .vtn-root .vtn-panel{bottom:88px;max-height:calc(100vh - 100px)}
}
@media (prefers-reduced-motion:reduce){
  .vtn-root *{animation:none!important;transition:none!important}
}
@media (forced-colors:active){
  .vtn-root .vtn-bubble,.vtn-root .vtn-choice,.vtn-root .vtn-launcher,.vtn-root .vtn-exit,.vtn-root .vtn-send{border:1px solid CanvasText}
}
`;

// ---------------------------------------------------------------------------------------------------------------
// Protocol types
// ---------------------------------------------------------------------------------------------------------------

interface ServerEvents {
  session: (p: { secret: string; resumed: boolean }) => void;
  history: (p: { messages: ChatMessageDto[] }) => void;
  'message.created': (m: ChatMessageDto) => void;
  'chat.error': (e: { code: string; message: string }) => void;
}
interface ClientEvents {
  'message.send': (payload: ClientMessage, ack: (a: SendAck) => void) => void;
}
type ChatSocket = Socket<ServerEvents, ClientEvents>;

/** A message the citizen sent from this page, until the server acknowledges it. */
interface Outgoing {
  readonly payload: ClientMessage;
  readonly el: HTMLElement;
  readonly meta: HTMLElement;
  id?: string;
  state: 'sending' | 'sent' | 'failed';
  /** Choice buttons to re-enable if sending a choice fails. */
  readonly choiceGroup?: HTMLElement;
  /** Local object URL of a photo. */
  readonly preview?: string;
}

// ---------------------------------------------------------------------------------------------------------------
// The widget
// ---------------------------------------------------------------------------------------------------------------

interface VentanillaApi {
  open(): void;
  close(): void;
  quickExit(): void;
}

declare global {
  interface Window {
    Ventanilla?: VentanillaApi;
  }
}

function createWidget(cfg: WidgetConfig): VentanillaApi {
  let socket: ChatSocket | undefined;
  let secret: string | null = store.get(SESSION_KEY);
  let exited = false;
  let isOpen = false;
  let unread = 0;
  let reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  let reconnectDelay = 2_000;
  let typingTimer: ReturnType<typeof setTimeout> | undefined;
  let waitingReply = false;
  let escapes: number[] = [];
  let sessionWaiters: ((s: string) => void)[] = [];

  /** Rendered messages by server id. */
  const rendered = new Map<string, HTMLElement>();
  /** Outgoing messages not yet acknowledged (kept across history refreshes), by clientId. */
  const outgoing = new Map<string, Outgoing>();
  /** Local photo previews by server message id, so a history refresh keeps showing them. */
  const previews = new Map<string, string>();
  const objectUrls: string[] = [];

  // --- DOM ------------------------------------------------------------------------------------------------------
  const style = h('style', undefined, { 'data-vtn': 'true' });
  style.textContent = CSS;
  (document.head || document.documentElement).appendChild(style);

  const root = h('div', 'vtn-root', { lang: LANG, 'data-vtn': 'widget' });
  const panelId = `vtn-panel-${Math.random().toString(36).slice(2, 8)}`;

  const launcher = h('button', 'vtn-launcher', {
    type: 'button',
    'aria-label': T.open,
    'aria-expanded': 'false',
    'aria-controls': panelId,
  });
  const launcherIcon = icon('chat');
  const launcherLabel = h(
    'span',
    'vtn-launcher-label',
    { 'aria-hidden': 'true' },
    T === en ? 'Chat' : 'Atención ciudadana',
  );
  const badge = h('span', 'vtn-badge', { hidden: true, 'aria-hidden': 'true' });
  launcher.append(launcherIcon, launcherLabel, badge);

  const panel = h('section', 'vtn-panel', {
    id: panelId,
    role: 'dialog',
    'aria-modal': 'false',
    'aria-labelledby': `${panelId}-title`,
    hidden: true,
  });

  const header = h('div', 'vtn-header');
  const avatar = h('div', 'vtn-avatar');
  avatar.appendChild(icon('building'));
  const heading = h('div', 'vtn-heading');
  const title = h('h2', 'vtn-title', { id: `${panelId}-title` }, T.title);
  const status = h('div', 'vtn-status');
  const statusDot = h('span', 'vtn-dot', { 'aria-hidden': 'true' });
  const statusText = h('span', 'vtn-status-text', {}, T.connecting);
  status.append(statusDot, statusText);
  heading.append(title, status);
  const exitBtn = h('button', 'vtn-exit', {
    type: 'button',
    title: T.quickExitHint,
    'aria-describedby': `${panelId}-exit-hint`,
    'data-vtn-action': 'quick-exit',
  });
  exitBtn.append(icon('exit'), h('span', undefined, {}, T.quickExit));
  const exitHint = h('span', 'vtn-sr', { id: `${panelId}-exit-hint` }, T.quickExitHint);
  const closeBtn = h('button', 'vtn-close', { type: 'button', 'aria-label': T.close, title: T.close });
  closeBtn.appendChild(icon('close'));
  header.append(avatar, heading, exitBtn, exitHint, closeBtn);

  const banner = h('div', 'vtn-banner', { role: 'status', hidden: true });
  const bannerText = h('span', 'vtn-banner-text');
  banner.append(icon('alert'), bannerText);

  const scroll = h('div', 'vtn-scroll');
  const notice = h('p', 'vtn-notice');
  const of = cfg.municipality ? T.noticeOf.replace('{m}', cfg.municipality) : T.noticeDefault;
  notice.append(icon('shield'), h('span', undefined, {}, T.notice.replace('{of}', of)));
  const intro = h('p', 'vtn-intro', {}, T.intro);
  const log = h('div', 'vtn-log', {
    role: 'log',
    'aria-live': 'polite',
    'aria-relevant': 'additions',
    'aria-label': T.title,
  });
  const typing = h('div', 'vtn-typing', { hidden: true });
  const typingBubble = h('div', 'vtn-typing-bubble', { role: 'img', 'aria-label': T.typing });
  typingBubble.append(h('span'), h('span'), h('span'));
  typing.appendChild(typingBubble);
  scroll.append(notice, intro, log, typing);

  const composer = h('form', 'vtn-composer', { novalidate: true });
  const inputId = `${panelId}-input`;
  const label = h('label', 'vtn-sr', { for: inputId }, T.inputLabel);
  const input = h('textarea', 'vtn-input', {
    id: inputId,
    rows: '1',
    placeholder: T.placeholder,
    autocomplete: 'off',
    enterkeyhint: 'send',
  });
  const attachBtn = h('button', 'vtn-tool', { type: 'button', 'aria-label': T.attach, title: T.attach });
  attachBtn.appendChild(icon('camera'));
  const locBtn = h('button', 'vtn-tool', { type: 'button', 'aria-label': T.location, title: T.location });
  locBtn.appendChild(icon('pin'));
  const sendBtn = h('button', 'vtn-send', { type: 'submit', 'aria-label': T.send, title: T.send });
  sendBtn.appendChild(icon('send'));
  const file = h('input', 'vtn-file', {
    type: 'file',
    accept: 'image/*',
    tabindex: '-1',
    'aria-hidden': 'true',
  });
  composer.append(attachBtn, locBtn, label, input, sendBtn, file);

  panel.append(header, banner, scroll, composer);
  root.append(panel, launcher);
  document.body.appendChild(root);

  // --- Rendering ------------------------------------------------------------------------------------------------
  const nearBottom = () => scroll.scrollHeight - scroll.scrollTop - scroll.clientHeight < 120;
  const scrollToEnd = () => {
    scroll.scrollTop = scroll.scrollHeight;
  };

  function setBanner(text: string | null, kind: 'info' | 'error' = 'info'): void {
    if (!text) {
      banner.hidden = true;
      bannerText.textContent = '';
      return;
    }
    banner.className = kind === 'error' ? 'vtn-banner vtn-banner--error' : 'vtn-banner';
    bannerText.textContent = text;
    banner.hidden = false;
  }

  function setOnline(state: 'online' | 'connecting' | 'reconnecting'): void {
    status.className = state === 'online' ? 'vtn-status vtn-online' : 'vtn-status';
    statusText.textContent =
      state === 'online' ? T.online : state === 'connecting' ? T.connecting : T.reconnecting;
  }

  function showTyping(ms: number): void {
    const atEnd = nearBottom();
    typing.hidden = false;
    if (atEnd) scrollToEnd();
    if (typingTimer) clearTimeout(typingTimer);
    typingTimer = setTimeout(hideTyping, ms);
  }
  function hideTyping(): void {
    typing.hidden = true;
    if (typingTimer) clearTimeout(typingTimer);
    typingTimer = undefined;
  }

  function updateIntro(): void {
    intro.hidden = log.childElementCount > 0;
  }

  /** Only the newest choices message keeps active buttons, and only until the citizen answers something. */
  function refreshChoices(): void {
    const groups = log.querySelectorAll<HTMLElement>('.vtn-choices');
    const last = groups[groups.length - 1];
    let answered = false;
    if (last) {
      const msg = last.closest('.vtn-msg');
      for (let n = msg?.nextElementSibling; n; n = n.nextElementSibling) {
        if (n.classList.contains('vtn-msg--in')) {
          answered = true;
          break;
        }
      }
    }
    groups.forEach((g) => {
      const active = g === last && !answered && g.getAttribute('data-busy') !== 'true';
      g.querySelectorAll<HTMLButtonElement>('button').forEach((b) => {
        b.disabled = !active;
      });
    });
  }

  function speaker(direction: 'in' | 'out'): HTMLElement {
    return h('span', 'vtn-sr', {}, direction === 'in' ? T.youSaid : T.botSaid);
  }

  function metaLine(at: string | undefined): HTMLElement {
    const meta = h('div', 'vtn-meta');
    meta.appendChild(h('time', undefined, at ? { datetime: at } : {}, timeOf(at)));
    return meta;
  }

  function photoLabel(): HTMLElement {
    const span = h('span', 'vtn-photo-label');
    span.append(icon('camera'), h('span', undefined, {}, T.photo));
    return span;
  }

  function locationLabel(): HTMLElement {
    const span = h('span', 'vtn-loc');
    span.append(icon('pin'), h('span', undefined, {}, T.locationShared));
    return span;
  }

  /** Build the bubble of a message from the server. Returns null for messages that render nothing. */
  function buildMessage(m: ChatMessageDto): HTMLElement | null {
    if (m.kind === 'typing') return null;
    const dir = m.direction === 'in' ? 'in' : 'out';
    const el = h('div', `vtn-msg vtn-msg--${dir}`, { 'data-id': m.id, 'data-kind': m.kind });
    const bubble = h('div', 'vtn-bubble');
    const text = typeof m.text === 'string' ? m.text : '';
    if (m.kind === 'media' || m.media) {
      const localPreview = previews.get(m.id);
      const remote = m.media && /^image\//.test(m.media.mime) ? safeUrl(m.media.url, cfg.base) : undefined;
      const src = localPreview ?? remote;
      if (src) {
        bubble.classList.add('vtn-bubble--photo');
        bubble.appendChild(
          h('img', 'vtn-photo', { src, alt: dir === 'in' ? T.photoAlt : T.botPhotoAlt, loading: 'lazy' }),
        );
      } else if (m.media?.url && safeUrl(m.media.url, cfg.base)) {
        bubble.appendChild(
          h(
            'a',
            undefined,
            { href: safeUrl(m.media.url, cfg.base), target: '_blank', rel: 'noopener noreferrer' },
            T.openLink,
          ),
        );
      } else {
        bubble.appendChild(photoLabel());
      }
      if (text) bubble.appendChild(h('span', 'vtn-caption', {}, text));
    } else if (m.kind === 'location' && !text) {
      bubble.appendChild(locationLabel());
    } else if (text) {
      bubble.textContent = text;
    } else {
      return null;
    }
    el.append(speaker(dir), bubble);
    if (dir === 'out' && m.choices && m.choices.length > 0) el.appendChild(buildChoices(m.choices));
    el.appendChild(metaLine(m.at));
    return el;
  }

  function buildChoices(choices: readonly { id: string; label: string }[]): HTMLElement {
    const group = h('div', 'vtn-choices', { role: 'group', 'aria-label': T.options });
    for (const c of choices) {
      const b = h('button', 'vtn-choice', { type: 'button', 'data-choice-id': c.id }, c.label);
      b.addEventListener('click', () => {
        if (b.disabled) return;
        group.setAttribute('data-busy', 'true');
        b.classList.add('vtn-chosen');
        b.setAttribute('aria-pressed', 'true');
        b.insertBefore(icon('check'), b.firstChild);
        refreshChoices();
        send(
          { clientId: uuid(), kind: 'choice', choiceId: c.id, label: c.label },
          { text: c.label, choiceGroup: group },
        );
        // The clicked button is disabled now: keep keyboard focus in the chat (not on phones, where it opens the keyboard).
        if (!phone()) input.focus();
      });
      group.appendChild(b);
    }
    return group;
  }

  function append(m: ChatMessageDto): void {
    if (rendered.has(m.id)) return;
    if (m.kind === 'typing') {
      if (m.direction === 'out') showTyping(8_000);
      return;
    }
    const el = buildMessage(m);
    if (!el) return;
    const atEnd = nearBottom();
    if (m.direction === 'out') {
      hideTyping();
      waitingReply = false;
    }
    log.appendChild(el);
    rendered.set(m.id, el);
    updateIntro();
    refreshChoices();
    if (atEnd || m.direction === 'in') scrollToEnd();
    if (!isOpen && m.direction === 'out') {
      unread++;
      badge.textContent = String(unread);
      badge.hidden = false;
      launcher.setAttribute('aria-label', `${T.open} (${unread} ${T.newMessage})`);
    }
  }

  function renderHistory(messages: readonly ChatMessageDto[]): void {
    clear(log);
    rendered.clear();
    for (const m of messages) {
      const el = buildMessage(m);
      if (!el) continue;
      log.appendChild(el);
      rendered.set(m.id, el);
    }
    // Messages still on their way stay visible after the refresh.
    outgoing.forEach((o) => {
      if (o.state !== 'sent' || !o.id || !rendered.has(o.id)) {
        log.appendChild(o.el);
        if (o.id) rendered.set(o.id, o.el);
      }
    });
    updateIntro();
    refreshChoices();
    scrollToEnd();
  }

  // --- Sending --------------------------------------------------------------------------------------------------
  function setOutgoingState(
    o: Outgoing,
    state: 'sending' | 'waiting' | 'uploading' | 'sent' | 'failed',
    error?: string,
  ): void {
    clear(o.meta);
    o.el.classList.toggle('vtn-msg--failed', state === 'failed');
    if (state === 'failed') {
      o.state = 'failed';
      o.meta.appendChild(
        h('span', 'vtn-meta-error', { role: 'alert' }, `${T.failed} ${error ?? T.sendFailed}`),
      );
      const retry = h('button', 'vtn-retry', { type: 'button' }, T.retry);
      retry.addEventListener('click', () => {
        o.state = 'sending';
        void deliver(o);
      });
      o.meta.appendChild(retry);
      return;
    }
    if (state === 'sent') {
      o.state = 'sent';
      o.meta.appendChild(h('time', undefined, {}, timeOf(undefined)));
      o.meta.appendChild(h('span', 'vtn-sr', {}, T.sent));
      o.meta.appendChild(icon('check'));
      return;
    }
    o.meta.appendChild(
      h(
        'span',
        undefined,
        {},
        state === 'waiting' ? T.waiting : state === 'uploading' ? T.uploading : T.sending,
      ),
    );
  }

  /** Show the citizen's bubble at once; returns the pending entry (not yet sent). */
  function addOutgoing(
    payload: ClientMessage,
    view: { text?: string; preview?: string; location?: boolean; choiceGroup?: HTMLElement },
  ): Outgoing {
    const el = h('div', 'vtn-msg vtn-msg--in', {
      'data-client-id': payload.clientId,
      'data-kind': payload.kind,
    });
    const bubble = h('div', 'vtn-bubble');
    if (view.preview) {
      bubble.classList.add('vtn-bubble--photo');
      bubble.appendChild(h('img', 'vtn-photo', { src: view.preview, alt: T.photoAlt }));
    } else if (view.location) {
      bubble.appendChild(locationLabel());
    } else {
      bubble.textContent = view.text ?? '';
    }
    const meta = h('div', 'vtn-meta');
    el.append(speaker('in'), bubble, meta);
    const o: Outgoing = {
      payload,
      el,
      meta,
      state: 'sending',
      ...(view.choiceGroup ? { choiceGroup: view.choiceGroup } : {}),
      ...(view.preview ? { preview: view.preview } : {}),
    };
    outgoing.set(payload.clientId, o);
    log.appendChild(el);
    updateIntro();
    refreshChoices();
    scrollToEnd();
    return o;
  }

  function send(
    payload: ClientMessage,
    view: { text?: string; preview?: string; location?: boolean; choiceGroup?: HTMLElement },
  ): void {
    const o = addOutgoing(payload, view);
    void deliver(o);
  }

  function waitForConnect(ms: number): Promise<boolean> {
    const s = ensureSocket();
    if (s.connected) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(t);
        s.off('connect', onConnect);
        resolve(ok);
      };
      const onConnect = () => done(true);
      const t = setTimeout(() => done(false), ms);
      s.on('connect', onConnect);
    });
  }

  function emitOnce(payload: ClientMessage): Promise<SendAck | 'timeout'> {
    const s = ensureSocket();
    return new Promise((resolve) => {
      s.timeout(ACK_TIMEOUT_MS).emit('message.send', payload, (err: Error | null, ack: SendAck) => {
        resolve(err || !ack || typeof ack !== 'object' ? 'timeout' : ack);
      });
    });
  }

  function errorText(code: string): string {
    if (code === 'CHANNEL_RATE_LIMITED') return T.rateLimited;
    if (code === 'CHANNEL_PAYLOAD_INVALID') return T.invalid;
    return T.sendFailed;
  }

  /** Send with retries; the same clientId makes the server drop duplicates. */
  async function deliver(o: Outgoing): Promise<void> {
    setOutgoingState(o, 'sending');
    let lastCode = '';
    for (let attempt = 0; attempt < RETRY_DELAYS_MS.length; attempt++) {
      const delay = RETRY_DELAYS_MS[attempt] ?? 0;
      if (delay) await sleep(delay);
      if (exited) return;
      if (!socket?.connected) {
        setOutgoingState(o, 'waiting');
        if (!(await waitForConnect(20_000))) continue;
        if (exited) return;
        setOutgoingState(o, 'sending');
      }
      waitingReply = true;
      showTyping(ACK_TIMEOUT_MS);
      const ack = await emitOnce(o.payload);
      if (exited) return;
      if (ack === 'timeout') {
        lastCode = 'TIMEOUT';
        continue;
      }
      if (ack.ok) {
        o.id = ack.id;
        setOutgoingState(o, 'sent');
        outgoing.delete(o.payload.clientId);
        if (!rendered.has(ack.id)) rendered.set(ack.id, o.el);
        o.el.setAttribute('data-id', ack.id);
        if (o.preview) previews.set(ack.id, o.preview);
        o.choiceGroup?.removeAttribute('data-busy');
        // Replies usually arrive before the ack; if not, keep the dots a little longer.
        if (waitingReply && !typing.hidden) showTyping(4_000);
        return;
      }
      lastCode = ack.code;
      if (RETRYABLE.has(ack.code)) {
        if (ack.retryAfterMs) await sleep(Math.min(ack.retryAfterMs, 30_000));
        continue;
      }
      break;
    }
    hideTyping();
    waitingReply = false;
    setOutgoingState(o, 'failed', errorText(lastCode));
    if (o.choiceGroup) {
      o.choiceGroup.removeAttribute('data-busy');
      o.choiceGroup.querySelectorAll('.vtn-chosen').forEach((b) => {
        b.classList.remove('vtn-chosen');
        b.removeAttribute('aria-pressed');
        b.querySelector('svg')?.remove();
      });
      refreshChoices();
    }
  }

  function submitText(): void {
    const text = input.value;
    if (!text.trim()) return;
    input.value = '';
    autoGrow();
    send({ clientId: uuid(), kind: 'text', text }, { text });
    input.focus();
  }

  // --- Photos ---------------------------------------------------------------------------------------------------
  function waitForSecret(ms: number): Promise<string | null> {
    if (secret) return Promise.resolve(secret);
    ensureSocket();
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(null), ms);
      sessionWaiters.push((s) => {
        clearTimeout(t);
        resolve(s);
      });
    });
  }

  function uploadError(status: number, body: unknown): string {
    const code = body && typeof body === 'object' && 'code' in body ? String(body.code) : '';
    const message = body && typeof body === 'object' && 'message' in body ? String(body.message) : '';
    if (code === 'CHANNEL_UPLOAD_TOO_LARGE' || status === 413) return T.photoTooLarge;
    if (code === 'CHANNEL_RATE_LIMITED' || status === 429) return T.photoRateLimited;
    if (code === 'CHANNEL_UPLOAD_INVALID' || status === 415) return T.photoInvalid;
    // Unknown 4xx: the server's own explanation (English on the server side) beats a vague message.
    return status >= 400 && status < 500 && message ? message : T.photoFailed;
  }

  async function sendPhoto(f: File): Promise<void> {
    if (!/^image\//.test(f.type)) {
      setBanner(T.photoNotImage, 'error');
      return;
    }
    if (f.size > MAX_PHOTO_BYTES) {
      setBanner(T.photoTooLarge, 'error');
      return;
    }
    setBanner(null);
    const preview = URL.createObjectURL(f);
    objectUrls.push(preview);
    const clientId = uuid();
    // The payload gets its mediaId after the upload; the bubble shows the preview meanwhile.
    const o = addOutgoing(
      { clientId, kind: 'media', mediaId: '00000000-0000-4000-8000-000000000000' },
      { preview },
    );
    setOutgoingState(o, 'uploading');
    const upload = async (): Promise<void> => {
      let failure: string | undefined;
      try {
        const s = await waitForSecret(20_000);
        if (exited) return;
        if (!s) throw new Error('no session');
        const res = await fetch(`${cfg.base}/webchat/uploads`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${s}`, 'Content-Type': f.type },
          body: f,
          credentials: 'omit',
          cache: 'no-store',
        });
        const body: unknown = await res.json().catch(() => null);
        if (exited) return;
        if (res.status === 201 && body && typeof body === 'object' && 'mediaId' in body) {
          const mediaId = String(body.mediaId);
          const ready: Outgoing = { ...o, payload: { clientId, kind: 'media', mediaId } };
          outgoing.set(clientId, ready);
          await deliver(ready);
          return;
        }
        failure = uploadError(res.status, body);
      } catch {
        failure = T.photoFailed;
      }
      if (exited) return;
      setOutgoingState(o, 'failed', failure);
      // The retry button of a failed upload must upload again, not send a placeholder id.
      const retry = o.meta.querySelector('.vtn-retry');
      if (retry) {
        const fresh = retry.cloneNode(true) as HTMLButtonElement;
        retry.replaceWith(fresh);
        fresh.addEventListener('click', () => {
          setOutgoingState(o, 'uploading');
          void upload();
        });
      }
    };
    await upload();
  }

  // --- Location -------------------------------------------------------------------------------------------------
  function shareLocation(): void {
    if (!('geolocation' in navigator)) {
      setBanner(T.locationUnsupported, 'error');
      return;
    }
    setBanner(T.locating);
    locBtn.disabled = true;
    navigator.geolocation.getCurrentPosition(
      (pos) => {
        locBtn.disabled = false;
        if (exited) return;
        setBanner(null);
        const lat = Math.round(pos.coords.latitude * 1e6) / 1e6;
        const lon = Math.round(pos.coords.longitude * 1e6) / 1e6;
        send({ clientId: uuid(), kind: 'location', lat, lon }, { location: true });
      },
      (err) => {
        locBtn.disabled = false;
        setBanner(err.code === 1 ? T.locationDenied : T.locationUnavailable, 'error');
      },
      { enableHighAccuracy: true, timeout: 20_000, maximumAge: 60_000 },
    );
  }

  // --- Connection -----------------------------------------------------------------------------------------------
  function scheduleReconnect(): void {
    if (exited || reconnectTimer) return;
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      if (!exited && socket && !socket.connected) socket.connect();
    }, reconnectDelay);
    reconnectDelay = Math.min(reconnectDelay * 2, 30_000);
  }

  function ensureSocket(): ChatSocket {
    if (socket) return socket;
    setOnline('connecting');
    const s: ChatSocket = io(`${cfg.origin}/webchat`, {
      path: cfg.socketPath,
      // Read on every (re)connection, so a reconnect resumes the session the server gave us.
      auth: (cb) => cb(secret ? { secret, locale: LOCALE } : { locale: LOCALE }),
      transports: ['websocket', 'polling'],
      tryAllTransports: true,
      withCredentials: false,
      reconnectionDelay: 1_000,
      reconnectionDelayMax: 10_000,
    });
    socket = s;
    s.on('connect', () => {
      reconnectDelay = 2_000;
      setOnline('online');
      setBanner(null);
    });
    s.on('disconnect', (reason) => {
      if (exited) return;
      setOnline('reconnecting');
      setBanner(T.connectionLost);
      // The server closed us (restart, deploy): socket.io does not reconnect by itself in that case.
      if (reason === 'io server disconnect') scheduleReconnect();
    });
    s.on('connect_error', (err) => {
      if (exited) return;
      setOnline('reconnecting');
      if (err.message === 'CHANNEL_ORIGIN_FORBIDDEN') {
        setBanner(T.notAllowed, 'error');
        s.disconnect();
        return;
      }
      if (err.message === 'CHANNEL_RATE_LIMITED') setBanner(T.tooManyConnections);
      else setBanner(T.connectionLost);
      // Middleware refusals are final for socket.io; transport errors are retried by the manager.
      if (!s.active) scheduleReconnect();
    });
    s.on('session', (p) => {
      if (exited || !p || typeof p.secret !== 'string') return;
      if (secret && p.secret !== secret) {
        // The stored session was not accepted: start over cleanly.
        clear(log);
        rendered.clear();
      }
      secret = p.secret;
      store.set(SESSION_KEY, p.secret);
      const waiters = sessionWaiters;
      sessionWaiters = [];
      for (const w of waiters) w(p.secret);
    });
    s.on('history', (p) => {
      if (exited || !p || !Array.isArray(p.messages)) return;
      renderHistory(p.messages);
    });
    s.on('message.created', (m) => {
      if (exited || !m || typeof m.id !== 'string') return;
      append(m);
    });
    s.on('chat.error', () => {
      if (exited) return;
      setBanner(T.chatError, 'error');
    });
    return s;
  }

  // --- Open / close / quick exit ----------------------------------------------------------------------------------
  const phone = () => window.matchMedia?.('(max-width: 480px)').matches ?? window.innerWidth <= 480;

  function open(): void {
    if (exited) return;
    ensureSocket();
    if (!isOpen) {
      isOpen = true;
      panel.hidden = false;
      root.classList.add('vtn-open');
      launcher.setAttribute('aria-expanded', 'true');
      launcher.setAttribute('aria-label', T.minimize);
      launcherLabel.textContent = '';
      launcher.replaceChild(icon('down'), launcher.firstChild as Node);
      if (phone()) document.documentElement.classList.add('vtn-lock');
      unread = 0;
      badge.hidden = true;
      scrollToEnd();
    }
    input.focus();
  }

  function close(): void {
    if (!isOpen) return;
    isOpen = false;
    panel.hidden = true;
    root.classList.remove('vtn-open');
    document.documentElement.classList.remove('vtn-lock');
    launcher.setAttribute('aria-expanded', 'false');
    launcher.setAttribute('aria-label', T.open);
    launcherLabel.textContent = T === en ? 'Chat' : 'Atención ciudadana';
    launcher.replaceChild(launcherIcon, launcher.firstChild as Node);
    launcher.focus();
  }

  /** For people who must hide that they were asking for help: forget everything, then leave at once. */
  function quickExit(): void {
    exited = true;
    secret = null;
    store.wipe();
    try {
      socket?.removeAllListeners();
      socket?.disconnect();
    } catch {
      // Leaving anyway.
    }
    socket = undefined;
    if (reconnectTimer) clearTimeout(reconnectTimer);
    if (typingTimer) clearTimeout(typingTimer);
    outgoing.clear();
    rendered.clear();
    previews.clear();
    for (const u of objectUrls) URL.revokeObjectURL(u);
    objectUrls.length = 0;
    input.value = '';
    clear(log);
    clear(root);
    root.remove();
    style.remove();
    document.documentElement.classList.remove('vtn-lock');
    window.removeEventListener('keydown', onKey, true);
    window.removeEventListener('hashchange', onHash);
    try {
      if (location.hash === '#chat') history.replaceState(null, '', location.pathname + location.search);
    } catch {
      // Navigation below replaces the entry anyway.
    }
    location.replace(cfg.exitUrl);
  }

  // --- Events -----------------------------------------------------------------------------------------------------
  function autoGrow(): void {
    input.style.height = 'auto';
    input.style.height = `${Math.min(input.scrollHeight + 2, 140)}px`;
  }

  function onKey(e: KeyboardEvent): void {
    if (e.key !== 'Escape' && e.key !== 'Esc') return;
    const now = Date.now();
    escapes = escapes.filter((t) => now - t < ESCAPE_WINDOW_MS);
    escapes.push(now);
    if (escapes.length >= ESCAPES_FOR_EXIT) {
      e.preventDefault();
      quickExit();
      return;
    }
    if (isOpen && (panel.contains(document.activeElement) || phone())) {
      e.preventDefault();
      close();
    }
  }

  function onHash(): void {
    if (location.hash === '#chat') open();
  }

  launcher.addEventListener('click', () => (isOpen ? close() : open()));
  closeBtn.addEventListener('click', close);
  exitBtn.addEventListener('click', quickExit);
  composer.addEventListener('submit', (e) => {
    e.preventDefault();
    submitText();
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submitText();
    }
  });
  input.addEventListener('input', autoGrow);
  attachBtn.addEventListener('click', () => {
    file.value = '';
    file.click();
  });
  file.addEventListener('change', () => {
    const f = file.files?.[0];
    file.value = '';
    if (f) void sendPhoto(f);
  });
  locBtn.addEventListener('click', shareLocation);
  window.addEventListener('keydown', onKey, true);
  window.addEventListener('hashchange', onHash);

  if (location.hash === '#chat') open();

  return { open, close, quickExit };
}

function boot(): void {
  if (window.Ventanilla) return;
  const start = () => {
    if (window.Ventanilla) return;
    window.Ventanilla = createWidget(readConfig());
  };
  if (document.body) start();
  else document.addEventListener('DOMContentLoaded', start, { once: true });
}

boot();
