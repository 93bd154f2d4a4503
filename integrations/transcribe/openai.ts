/**
 * Voice notes to text through an OpenAI-compatible `POST {baseUrl}/audio/transcriptions` (multipart: `file`,
 * `model`, `language`), e.g. OpenAI Whisper, a self-hosted faster-whisper server or LocalAI. `baseUrl` includes
 * `/v1`, like `LLM_BASE_URL`. https://platform.openai.com/docs/api-reference/audio/createTranscription
 */
import { IntegrationError } from '../contract.ts';
import type { Transcriber } from '../contract.ts';

/** Options of {@link createOpenAiTranscriber}. */
export interface OpenAiTranscriberOptions {
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly model: string;
  readonly timeoutMs: number;
}

const EXT: Record<string, string> = {
  'audio/ogg': 'ogg',
  'audio/mpeg': 'mp3',
  'audio/mp4': 'm4a',
  'audio/aac': 'm4a',
  'audio/amr': 'amr',
  'audio/wav': 'wav',
  'audio/webm': 'webm',
};

/** Build a transcriber; it never logs or returns the API key. */
export function createOpenAiTranscriber(opts: OpenAiTranscriberOptions): Transcriber {
  const url = `${opts.baseUrl.replace(/\/$/, '')}/audio/transcriptions`;
  return {
    async transcribe({ bytes, mime, language }) {
      const form = new FormData();
      const type = mime.split(';')[0]!.trim();
      form.append('file', new Blob([new Uint8Array(bytes)], { type }), `voice.${EXT[type] ?? 'ogg'}`);
      form.append('model', opts.model);
      if (language) form.append('language', language);
      form.append('response_format', 'json');
      let res: Response;
      try {
        res = await fetch(url, {
          method: 'POST',
          headers: { authorization: `Bearer ${opts.apiKey}` },
          body: form,
          signal: AbortSignal.timeout(opts.timeoutMs),
        });
      } catch (err) {
        throw new IntegrationError('TRANSCRIBE_FAILED', 'Transcription service unreachable or timed out', {
          retryable: true,
          cause: err instanceof Error ? err.name : undefined,
        });
      }
      if (!res.ok) {
        throw new IntegrationError('TRANSCRIBE_FAILED', `Transcription service answered ${res.status}`, {
          retryable: res.status === 429 || res.status >= 500,
        });
      }
      const body = (await res.json().catch(() => null)) as { text?: unknown } | null;
      const text = typeof body?.text === 'string' ? body.text.trim() : '';
      if (!text) throw new IntegrationError('TRANSCRIBE_FAILED', 'The transcription was empty');
      return text;
    },
  };
}
