// Constants, labels, options and small helpers shared by every other module.

var VERSION = '1.1.0';
var STATE_VERSION = 1;
var ENDED = {ended: true, ticket: true};
var EMAIL = /^[^@\s]+@[^@\s]+$/;
var LANGUAGE = /^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$/;
// The id of the SDK's own "close the conversation?" confirmation (a modal system message).
var EXIT_CONVERSATION = 'exitConversation';

// English texts of every label the hub and the adapter show (displaySystemMessage with
// translate: true). Give them to the SDK's labels, translated as needed.
var LABELS = {
  'queue-position': 'You are number {position} in the queue (about {estimatedWaitMinutes} min).',
  'queue-position-no-estimate': 'You are number {position} in the queue. We cannot estimate the wait yet.',
  'queue-wait': 'An agent will be with you in about {estimatedWaitMinutes} min.',
  'wait-for-agent': 'Please wait: an agent will be with you soon.',
  'agent-joined': '{agentName} has joined the chat.',
  'agent-left': '{agentName} has left the chat.',
  'no-agents': 'No agent is available right now.',
  'out-of-hours': 'Our agents are not working right now.',
  'unavailable': 'Chatting with an agent is not possible right now.',
  'ticket-created': 'We opened ticket {ticketId}: we will answer you by email.',
  'chat-closed': 'The chat with the agent has ended.',
  'idle-warning': 'Are you still there? The chat closes in {minutes} min without a reply.',
  'escalation-failed': 'We could not reach an agent. Please try again in a moment.',
  'chat-open-elsewhere': 'You are already chatting with an agent in another tab or window. ' +
    'Continue there, or come back when that chat has ended.',
  'chat-lost': 'The chat with the agent could not be resumed.',
  'survey-thanks': 'Thank you for your feedback.',
  'file-extension-not-allowed': 'Files of this type cannot be sent.',
  'file-too-large': 'This file is too large to send.',
  'file-upload-not-supported': 'Files cannot be sent in this chat.'
};

// The words of the satisfaction survey (it is HTML in the SDK's custom conversation
// window, so the SDK's labels do not reach it): the `survey` option overrides them.
var SURVEY_TEXTS = {
  title: 'How was your chat?',
  question: 'Rate the help you got',
  ratings: ['1 - Very poor', '2 - Poor', '3 - Fair', '4 - Good', '5 - Very good'],
  comment: 'Anything to add? (optional)',
  send: 'Send',
  skip: 'Skip'
};

var DEFAULTS = {
  hubUrl: '',
  botId: '',
  queue: null,
  skills: null,
  language: null,
  user: null,
  storage: 'session',
  storageKey: null,
  transport: 'websocket',
  typingInput: null,
  readReceipts: true,
  uploadButton: true,
  closeButton: true,
  survey: true,
  transcriptLength: 100,
  reconnectDelay: 500,
  reconnectMaxDelay: 15000,
  pollWait: 25,
  fetch: null,
  WebSocket: null,
  log: null
};

function assign(target) {
  for (var i = 1; i < arguments.length; i++) {
    var source = arguments[i];
    if (source) {
      for (var key in source) {
        if (Object.prototype.hasOwnProperty.call(source, key)) target[key] = source[key];
      }
    }
  }
  return target;
}

function randomId(prefix) {
  var bytes = new Uint8Array(12);
  (root.crypto || root.msCrypto).getRandomValues(bytes);
  var hex = '';
  for (var i = 0; i < bytes.length; i++) hex += (bytes[i] + 256).toString(16).slice(1);
  return prefix + hex;
}

function text(value, limit) {
  if (value === null || value === undefined) return '';
  var s = typeof value === 'string' ? value : String(value);
  return limit && s.length > limit ? s.slice(0, limit) : s;
}

function escapeHtml(value) {
  return text(value).replace(/[&<>"']/g, function (c) {
    return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c];
  });
}

function plainObject(value) {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return {};
  try {
    var copy = JSON.parse(JSON.stringify(value));
    return copy && typeof copy === 'object' && !Array.isArray(copy) ? copy : {};
  } catch (e) {
    return {};
  }
}

function first() {
  for (var i = 0; i < arguments.length; i++) {
    var v = arguments[i];
    if (v !== undefined && v !== null && v !== '') return v;
  }
  return undefined;
}

function sleep(ms) {
  return new Promise(function (resolve) { setTimeout(resolve, ms); });
}

function backoff(attempt, base, cap) {
  var delay = Math.min(cap, base * Math.pow(2, attempt));
  return delay / 2 + Math.random() * delay / 2;  // "equal jitter"
}

function pickStorage(option) {
  try {
    if (option === 'local') return root.localStorage;
    if (option && typeof option === 'object' && typeof option.getItem === 'function') return option;
    return root.sessionStorage;
  } catch (e) {
    return null;  // storage switched off: the chat still works, without restore
  }
}

// An HTTP answer the adapter acts on: {status, body} (body parsed when JSON).
function HubError(status, body, message) {
  this.status = status;
  this.body = body;
  this.code = body && body.error ? body.error.code : null;
  this.message = message || (body && body.error ? body.error.message : 'HTTP ' + status);
}

function retryable(error) {
  return !(error instanceof HubError) || error.status >= 500 || error.status === 408 ||
    error.status === 429;
}
