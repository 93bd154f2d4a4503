import type { ChatMessageDto, ClientMessage, SendAck } from '../webchat.ts';
import { io } from 'socket.io-client';
const x: ChatMessageDto | undefined = undefined;
const y: ClientMessage | undefined = undefined;
const z: SendAck | undefined = undefined;
console.log(x, y, z, io, document.body);
