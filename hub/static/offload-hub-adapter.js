/*!
 * offload-hub browser adapter for the Inbenta Chatbot SDK.
 *
 * One file, no dependencies. Served by the hub at /static/offload-hub-adapter.js.
 * Built from adapter/src/*.js by adapter/bundle.py: edit those, not this file.
 *
 *   InbentaChatbotSDK.buildWithDomainCredentials(auth, {
 *     adapters: [OffloadHub.adapter({hubUrl: 'https://hub.example', botId: 'bot_...'})],
 *     labels: {en: OffloadHub.labels},
 *   });
 *
 * The adapter hands the conversation to the hub on escalateToAgent, sends what the user
 * writes (and uploads) while the chat is open, and applies every envelope of the hub's
 * event stream as chatBot.actions[action](data). It resumes the stream after a dropped
 * connection or a page reload from the last seq it applied: nothing is lost, nothing is
 * shown twice. docs/adapter.md describes every option.
 */
(function (root) {
  'use strict';

  // ---- adapter/src/basics.js ----

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

  // ---- adapter/src/sdk.js ----

  // Every call the adapter makes on the SDK goes through Connector.prototype.sdk: an action
  // the build lacks, or one that throws, is logged and skipped, so one failing call never
  // stops the rest (a resume after a reload, the return to the bot, a replay).

  // Actions the SDK's reference gives no argument: they are called with none.
  var NO_ARGUMENT = {
    disableInput: true, enableInput: true, getSessionData: true, resetSession: true,
    showCloseButton: true, hideCloseButton: true, showUploadMediaButton: true,
    hideUploadMediaButton: true, showConversationWindow: true, hideConversationWindow: true,
    hideCustomConversationWindow: true, closeSideWindow: true
  };

  function isEmpty(data) {
    if (data === undefined || data === null) return true;
    for (var key in data) {
      if (Object.prototype.hasOwnProperty.call(data, key)) return false;
    }
    return true;
  }

  // chatBot.actions[action](data), guarded; returns what the action returned, or undefined.
  function callSdk(chatBot, log, action, data) {
    var actions = chatBot && chatBot.actions;
    var run = actions && actions[action];
    if (typeof run !== 'function') {
      log('warn', 'the chatbot has no action ' + action);
      return undefined;
    }
    try {
      if (NO_ARGUMENT[action] || (action === 'hideChatbotActivity' && isEmpty(data))) {
        return run.call(actions);
      }
      return run.call(actions, data);
    } catch (e) {
      log('error', action + ' failed', e);
      return undefined;
    }
  }

  // ---- adapter/src/connector.js ----

  // The adapter function, and the Connector: one per chatbot, holding the open chat, its
  // persistence across reloads, and the HTTP calls to the hub.

  function adapter(options) {
    var config = assign({}, DEFAULTS, options);
    if (!config.botId) throw new Error('OffloadHub.adapter: botId is required');
    config.hubUrl = (config.hubUrl || root.location.origin).replace(/\/+$/, '');
    config.survey = config.survey === false ? false :
      assign({}, SURVEY_TEXTS, typeof config.survey === 'object' ? config.survey : null);
    return function (chatBot) {
      new Connector(chatBot, config).install();
    };
  }

  function Connector(chatBot, config) {
    this.chatBot = chatBot;
    this.config = config;
    this.storage = pickStorage(config.storage);
    this.storageKey = config.storageKey || 'offload-hub:' + config.botId;
    this.fetchImpl = config.fetch || root.fetch.bind(root);
    this.WebSocketImpl = config.WebSocket || root.WebSocket;
    this.state = null;          // the open chat: {conversationId, token, seq, pending, ...}
    this.escalating = false;
    this.socket = null;
    this.pollAbort = null;
    this.streamRun = 0;         // bumped to stop a stream loop
    this.attempts = 0;
    this.socketRefusals = 0;    // WebSockets that failed while plain HTTP worked
    this.reconnectTimer = null;
    this.transport = config.transport === 'poll' ? 'poll' : 'websocket';
    this.sendChain = Promise.resolve();
    this.displayed = [];        // ids the SDK gave the user's latest messages
    this.lastAgentMessage = null;
    this.lastRead = null;
    this.readTimer = null;
    this.typingSince = 0;
    this.typingTimer = null;
    this.typingBound = null;
  }

  Connector.prototype.log = function (level, message, detail) {
    if (this.config.log) {
      this.config.log(level, message, detail);
    } else if (level === 'error' || level === 'warn') {
      (root.console[level] || root.console.log).call(root.console, '[offload-hub] ' + message,
        detail === undefined ? '' : detail);
    }
  };

  // chatBot.actions[action](data), guarded (sdk.js).
  Connector.prototype.sdk = function (action, data) {
    return callSdk(this.chatBot, this.log.bind(this), action, data);
  };

  // -- persistence: what a reload needs ---------------------------------------------------

  Connector.prototype.load = function () {
    if (!this.storage) return {};
    try {
      var saved = JSON.parse(this.storage.getItem(this.storageKey) || '{}');
      return saved && saved.v === STATE_VERSION ? saved : {};
    } catch (e) {
      return {};
    }
  };

  Connector.prototype.save = function (extra) {
    if (!this.storage) return;
    var saved = assign(this.load(), extra || {});
    saved.v = STATE_VERSION;
    saved.chat = this.state;
    try {
      this.storage.setItem(this.storageKey, JSON.stringify(saved));
    } catch (e) {
      this.log('warn', 'cannot store the chat state', e);
    }
  };

  Connector.prototype.active = function () {
    return this.state !== null;
  };

  // -- HTTP -----------------------------------------------------------------------------------

  Connector.prototype.request = function (method, path, options) {
    options = options || {};
    var headers = assign({}, options.headers);
    var body = options.body;
    if (options.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(options.json);
    }
    var token = options.token || (this.state && this.state.token);
    if (options.auth !== false && token && !headers.Authorization && !headers['X-Bot-Id']) {
      headers.Authorization = 'Bearer ' + token;
    }
    return this.fetchImpl(this.config.hubUrl + path, {
      method: method,
      headers: headers,
      body: body,
      mode: 'cors',
      credentials: 'omit',
      signal: options.signal
    }).then(function (response) {
      var type = response.headers.get('Content-Type') || '';
      var parsed = type.indexOf('application/json') === 0 ? response.json() : response.text();
      return parsed.then(function (data) {
        if (!response.ok) throw new HubError(response.status, data);
        return data;
      });
    });
  };

  // Retries what failed on the way (network, 5xx, 408, 429) with backoff; a refusal is final.
  Connector.prototype.withRetries = function (attempts, call) {
    var self = this;
    var attempt = 0;
    function run() {
      return call().catch(function (error) {
        attempt += 1;
        if (attempt >= attempts || !retryable(error)) throw error;
        return sleep(backoff(attempt, self.config.reconnectDelay, self.config.reconnectMaxDelay))
          .then(run);
      });
    }
    return run();
  };

  Connector.prototype.conversationPath = function (conversationId) {
    return '/v1/conversations/' + encodeURIComponent(conversationId);
  };

  // ---- adapter/src/subscriptions.js ----

  // The SDK subscriptions: a middleware chain (first in, first out). What the adapter has no
  // business with is passed on with next(...), so it composes with other adapters.

  Connector.prototype.install = function () {
    var self = this;
    var on = this.chatBot.subscriptions;

    on.onEscalateToAgent(function (escalationData) {
      if (self.active() || self.escalating) return undefined;  // already with a person
      self.escalate(escalationData || {});
      return undefined;
    });

    // The SDK gives each message it shows an id; the user's message is shown just before it
    // is sent, so the id of the latest one is the client id the hub ticks.
    if (on.onDisplayUserMessage) on.onDisplayUserMessage(function (messageData, next) {
      var id = next(messageData);
      if (self.active() && typeof id === 'string') {
        self.displayed.push({id: id, message: messageData && messageData.message});
        if (self.displayed.length > 20) self.displayed.shift();
      }
      return id;
    });

    on.onSendMessage(function (messageData, next) {
      if (!self.active()) return next(messageData);
      self.forward(messageData || {});
      return undefined;
    });

    on.onUploadMedia(function (mediaData, next) {
      if (!self.active()) return next(mediaData);
      self.upload(mediaData || {});
      return undefined;
    });

    on.onDownloadMedia(function (mediaData, next) {
      if (self.download(mediaData || {})) return undefined;
      return next(mediaData);
    });

    // The SDK's close button asks its own question (a modal system message with the id
    // exitConversation). "yes" while a person is on the chat ends the chat, as Inbenta's
    // live-chat adapters do: the chat returns to the bot and the SDK does not reset.
    on.onSelectSystemMessageOption(function (optionData, next) {
      var value = optionData && optionData.option && optionData.option.value;
      if (self.active() && optionData.id === EXIT_CONVERSATION && value === 'yes') {
        self.leave();
        return undefined;
      }
      return next(optionData);
    });

    // A build whose close button resets the session without asking: the user left the chat
    // and the bot's session; end the chat on the hub and let the SDK reset.
    if (on.onResetSession) on.onResetSession(function (next) {
      if (self.active()) self.leave({reset: true});
      return next();
    });

    on.onReady(function (next) {
      self.restore();
      self.surveyPending();
      return next();
    });

    if (root.document) {
      root.document.addEventListener('visibilitychange', function () {
        self.scheduleRead();
      });
      this.watchSurvey();
    }
  };

  // ---- adapter/src/escalation.js ----

  // Handing the chat to the hub: POST /v1/escalations with the bot's transcript and session.

  Connector.prototype.sessionId = function () {
    var session = this.sdk('getSessionData') || {};
    if (session.sessionId) return text(session.sessionId, 200);
    var saved = this.load();
    if (!saved.sessionId) {
      saved.sessionId = randomId('browser-');
      this.save({sessionId: saved.sessionId});
    }
    return saved.sessionId;
  };

  Connector.prototype.transcript = function () {
    var items = this.sdk('getConversationTranscript', {
      maxInteractions: this.config.transcriptLength
    }) || [];
    var out = [];
    for (var i = 0; i < items.length; i++) {
      var item = items[i] || {};
      if (item.user !== 'guest' && item.user !== 'assistant') continue;
      var entry = {user: item.user, message: text(item.message, 10000)};
      if (typeof item.datetime === 'string') entry.datetime = text(item.datetime, 64);
      if (item.id !== undefined && item.id !== null) entry.id = text(item.id, 100);
      if (item.externalId) entry.externalId = text(item.externalId, 100);
      if (item.type) entry.type = text(item.type, 40);
      if (item.agentName) entry.agentName = text(item.agentName, 200);
      out.push(entry);
    }
    return out.slice(-200);
  };

  Connector.prototype.escalationBody = function (data) {
    var defaults = this.config.user || {};
    var user = {};
    var name = first(data.name, data.FIRST_NAME, defaults.name);
    var lastName = first(data.lastName, data.LAST_NAME, defaults.lastName);
    var email = first(data.email, data.EMAIL_ADDRESS, defaults.email);
    var language = first(this.config.language, data.language, data.LANGUAGE, defaults.language,
      root.document && root.document.documentElement.lang);
    if (name) user.name = text(name, 200);
    if (lastName) user.lastName = text(lastName, 200);
    if (email && EMAIL.test(String(email))) user.email = text(email, 320);
    if (language && LANGUAGE.test(String(language))) user.language = String(language);
    user.extra = assign(plainObject(defaults.extra), plainObject(data.extra));
    var body = {
      sessionId: this.sessionId(),
      user: user,
      inquiry: text(first(data.inquiry, data.INQUIRY, ''), 4000),
      transcript: this.transcript(),
      data: plainObject(data)
    };
    var queue = first(this.config.queue, data.queue, data.QUEUE);
    if (queue) body.queue = text(queue, 40);
    var skills = first(this.config.skills, data.skills);
    if (Array.isArray(skills)) body.skills = skills.map(function (s) { return text(s, 100); });
    return body;
  };

  Connector.prototype.escalate = function (data) {
    var body = this.escalationBody(data);
    var key = randomId('esc-');
    this.save({escalation: {key: key, body: body}});
    this.sdk('disableInput');
    this.sdk('displayChatbotActivity', {});
    return this.postEscalation(body, key);
  };

  Connector.prototype.postEscalation = function (body, key) {
    var self = this;
    this.escalating = true;
    return this.withRetries(4, function () {
      return self.request('POST', '/v1/escalations', {
        json: body,
        auth: false,
        headers: {'X-Bot-Id': self.config.botId, 'Idempotency-Key': key}
      });
    }).then(function (answer) {
      self.escalating = false;
      self.sdk('hideChatbotActivity');
      self.begin(answer);
    }, function (error) {
      self.escalating = false;
      self.save({escalation: null});
      self.sdk('hideChatbotActivity');
      self.sdk('enableInput');
      if (error instanceof HubError && error.status === 409 &&
          (error.code === 'conversation-open' || error.code === 'conversation_open')) {
        // This bot session already has a chat open, in another tab or window: its token is
        // there, not here. The user continues there, or escalates again once it ended.
        self.log('warn', 'the chat of this session is open in another tab or window');
        self.sdk('displaySystemMessage', {message: 'chat-open-elsewhere', translate: true});
        return;
      }
      self.log('error', 'the escalation failed: ' + error.message, error);
      self.sdk('displaySystemMessage', {message: 'escalation-failed', translate: true});
    });
  };

  Connector.prototype.closeButtonVisible = function () {
    var session = this.sdk('getSessionData') || {};
    return session.closeButtonVisible !== false;
  };

  Connector.prototype.begin = function (answer) {
    this.state = {
      conversationId: answer.conversationId,
      token: answer.token,
      seq: 0,
      pending: [],
      media: {},
      attended: false,
      closeButtonWas: this.closeButtonVisible()
    };
    this.displayed = [];
    this.save({escalation: null, survey: null});
    if (!ENDED[answer.status]) this.showChatControls();
    this.sdk('enableInput');
    this.watchTyping();
    this.connect();
  };

  Connector.prototype.showChatControls = function () {
    if (this.config.uploadButton) this.sdk('showUploadMediaButton');
    if (this.config.closeButton) this.sdk('showCloseButton');
  };

  // ---- adapter/src/user-side.js ----

  // The user's side of an open chat: messages (with their ticks), files, typing, read
  // receipts and leaving.

  // The id the SDK gave the message being sent: the latest displayed user message with this
  // text, else the latest guest message of the transcript without an external id.
  Connector.prototype.clientId = function (messageData) {
    if (messageData.id) return String(messageData.id);
    for (var i = this.displayed.length - 1; i >= 0; i--) {
      if (this.displayed[i].message === messageData.message) {
        return this.displayed.splice(i, 1)[0].id;
      }
    }
    var items = this.sdk('getConversationTranscript', {maxInteractions: 5}) || [];
    for (var j = items.length - 1; j >= 0; j--) {
      var item = items[j] || {};
      if (item.user === 'guest' && !item.externalId && item.id &&
          item.message === messageData.message && !this.isPending(item.id)) {
        return String(item.id);
      }
    }
    return null;  // a fresh id, without ticks
  };

  Connector.prototype.isPending = function (id) {
    var pending = this.state ? this.state.pending : [];
    for (var i = 0; i < pending.length; i++) if (pending[i].id === id) return true;
    return false;
  };

  Connector.prototype.forward = function (messageData) {
    var message = text(messageData.message, 10000);
    if (!message.trim()) return;
    var id = this.clientId(messageData);
    var shown = id !== null;
    if (!shown) id = randomId('msg-');
    var item = {id: id, message: message, shown: shown};
    if (shown) this.tick({id: id, action: 'WAITING_TICK'});
    this.state.pending.push(item);
    this.save();
    this.stopTyping();
    this.enqueue(item);
  };

  Connector.prototype.tick = function (payload) {
    this.sdk('updateMessage', payload);
  };

  Connector.prototype.enqueue = function (item) {
    var self = this;
    var conversationId = this.state.conversationId;
    this.sendChain = this.sendChain.then(function () {
      if (!self.state || self.state.conversationId !== conversationId) return undefined;
      return self.withRetries(8, function () {
        return self.request('POST', self.conversationPath(conversationId) + '/messages', {
          json: {id: item.id, message: item.message}
        });
      }).then(function () {
        self.settle(item.id);
      }, function (error) {
        self.log('warn', 'a message could not be sent: ' + error.message, error);
        self.settle(item.id);
        if (item.shown) self.tick({id: item.id, action: 'ERROR_TICK'});
      });
    });
  };

  Connector.prototype.settle = function (id) {
    if (!this.state) return;
    this.state.pending = this.state.pending.filter(function (p) { return p.id !== id; });
    this.save();
  };

  Connector.prototype.upload = function (mediaData) {
    var self = this;
    var file = mediaData.file;
    var id = mediaData.messageId ? String(mediaData.messageId) : randomId('file-');
    if (!(root.Blob && file instanceof root.Blob)) {
      this.log('warn', 'uploadMedia needs a File');
      if (mediaData.messageId) this.tick({id: id, action: 'ERROR_TICK'});
      return;
    }
    this.tick({id: id, action: 'WAITING_TICK'});
    this.state.pending.push({id: id, upload: true});
    this.save();
    var conversationId = this.state.conversationId;
    this.sendChain = this.sendChain.then(function () {
      if (!self.state || self.state.conversationId !== conversationId) return undefined;
      return self.withRetries(4, function () {
        var form = new root.FormData();
        form.append('file', file, file.name || 'file');
        form.append('id', id);
        return self.request('POST', self.conversationPath(conversationId) + '/media',
          {body: form});
      }).then(function (media) {
        if (self.state) {
          self.state.media[id] = media.id;
          if (media.message) self.state.media[media.message.externalId] = media.id;
        }
        self.settle(id);
      }, function (error) {
        self.settle(id);
        self.tick({id: id, action: 'ERROR_TICK'});
        var label = {413: 'file-too-large', 415: 'file-extension-not-allowed',
          409: 'file-upload-not-supported'}[error.status];
        if (label) self.sdk('displaySystemMessage', {message: label, translate: true});
        else self.log('warn', 'the file could not be sent: ' + error.message, error);
      });
    });
  };

  // A file of the chat (either side's): opened with the conversation token.
  Connector.prototype.download = function (mediaData) {
    var saved = this.load();
    var chat = this.state || saved.last;
    if (!chat) return false;
    var file = mediaData.file || mediaData.media || {};
    var media = chat.media || {};
    var url = typeof file.url === 'string' && file.url.indexOf('/v1/media/') === 0 ? file.url : null;
    var mediaId = file.id || media[mediaData.messageExternalId] || media[mediaData.messageId];
    if (!url && mediaId) url = '/v1/media/' + encodeURIComponent(mediaId);
    if (!url || !root.document) return false;
    var link = root.document.createElement('a');
    link.href = this.config.hubUrl + url + '?token=' + encodeURIComponent(chat.token);
    link.rel = 'noopener';
    link.target = '_blank';
    link.download = file.name || '';
    root.document.body.appendChild(link);
    link.click();
    link.remove();
    return true;
  };

  // The user ends the chat. The stream then brings the chat back to the bot; with
  // {reset: true} the SDK is resetting its session, so the chat is forgotten here at once.
  Connector.prototype.leave = function (options) {
    var self = this;
    var chat = this.state;
    this.withRetries(4, function () {
      return self.request('POST', self.conversationPath(chat.conversationId) + '/close',
        {json: {reason: 'closed-by-user'}, token: chat.token});
    }).catch(function (error) {
      self.log('warn', 'closing the chat failed: ' + error.message, error);
      if (!retryable(error)) self.abandon();
    });
    if (options && options.reset) this.finish({quiet: true});
  };

  // The user's typing, from the SDK's text input (the typingInput option: a CSS selector,
  // matched when the user types, so an input the SDK draws later counts too; or an element).
  Connector.prototype.watchTyping = function () {
    var self = this;
    var input = this.config.typingInput;
    if (!input || this.typingBound || !root.document) return;
    this.typingBound = function (event) {
      if (!self.active()) return;
      var target = event.target;
      if (typeof input === 'string' ? !(target && target.matches && target.matches(input)) :
          target !== input) {
        return;
      }
      var now = Date.now();
      if (now - self.typingSince > 3000) {
        self.typingSince = now;
        self.sendTyping(true);
      }
      clearTimeout(self.typingTimer);
      self.typingTimer = setTimeout(function () { self.stopTyping(); }, 3000);
    };
    root.document.addEventListener('input', this.typingBound, true);
  };

  Connector.prototype.stopTyping = function () {
    clearTimeout(this.typingTimer);
    if (this.typingSince) {
      this.typingSince = 0;
      this.sendTyping(false);
    }
  };

  Connector.prototype.sendTyping = function (typing) {
    if (!this.state) return;
    var self = this;
    this.request('POST', this.conversationPath(this.state.conversationId) + '/typing',
      {json: {typing: typing}}).catch(function (error) {
      self.log('debug', 'typing not sent', error);
    });
  };

  // Read receipts: the latest agent message, once the page is visible.
  Connector.prototype.scheduleRead = function () {
    var self = this;
    if (!this.config.readReceipts || !this.state || !this.lastAgentMessage) return;
    if (this.lastAgentMessage === this.lastRead) return;
    if (root.document && root.document.visibilityState === 'hidden') return;
    clearTimeout(this.readTimer);
    this.readTimer = setTimeout(function () {
      if (!self.state || self.lastAgentMessage === self.lastRead) return;
      var upTo = self.lastAgentMessage;
      self.lastRead = upTo;
      self.request('POST', self.conversationPath(self.state.conversationId) + '/read',
        {json: {upTo: upTo}}).catch(function (error) {
        if (self.lastRead === upTo) self.lastRead = null;
        self.log('debug', 'read receipt not sent', error);
      });
    }, 300);
  };

  // ---- adapter/src/stream.js ----

  // The conversation's event stream: a WebSocket (long-polling when WebSockets are really
  // blocked on the way), resumed from the last seq applied; each envelope applied once, in
  // order, as chatBot.actions[action](data).

  // probe: plain HTTP to the hub just worked, so a socket that fails now tells that
  // WebSockets themselves are blocked (not that the hub is down or restarting).

  // WebSocket close codes (RFC 6455): this side is done; the hub is going away (it restarts).
  var NORMAL_CLOSURE = 1000;
  var GOING_AWAY = 1001;

  Connector.prototype.connect = function (probe) {
    this.disconnect();
    if (!this.state) return;
    var run = ++this.streamRun;
    if (this.transport === 'websocket' && this.WebSocketImpl) this.openSocket(run, probe === true);
    else this.poll(run);
  };

  Connector.prototype.disconnect = function () {
    this.streamRun++;
    clearTimeout(this.reconnectTimer);
    if (this.socket) {
      var socket = this.socket;
      this.socket = null;
      socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
      try { socket.close(NORMAL_CLOSURE); } catch (e) { /* already closed */ }
    }
    if (this.pollAbort) {
      this.pollAbort.abort();
      this.pollAbort = null;
    }
  };

  Connector.prototype.eventsPath = function () {
    return this.conversationPath(this.state.conversationId) + '/events';
  };

  Connector.prototype.openSocket = function (run, probe) {
    var self = this;
    var url = this.config.hubUrl.replace(/^http/, 'ws') + this.eventsPath() +
      '?token=' + encodeURIComponent(this.state.token) + '&after=' + this.state.seq;
    var socket;
    try {
      socket = new this.WebSocketImpl(url);
    } catch (e) {
      this.log('warn', 'WebSocket unavailable: long-polling instead', e);
      this.transport = 'poll';
      this.poll(run);
      return;
    }
    var opened = false;
    this.socket = socket;
    socket.onopen = function () {
      opened = true;
      self.attempts = 0;
      self.socketRefusals = 0;
    };
    socket.onmessage = function (message) {
      if (run !== self.streamRun) return;
      var envelope;
      try {
        envelope = JSON.parse(message.data);
      } catch (e) {
        self.log('warn', 'an unreadable frame', message.data);
        return;
      }
      if (!self.receive(envelope)) {
        // A gap (a missed frame): resume from the last seq applied.
        self.connect();
      }
    };
    socket.onclose = function (event) {
      if (run !== self.streamRun) return;
      self.socket = null;
      if (probe && !opened) self.socketRefusals++;
      self.reconnect(run, event.code === GOING_AWAY);
    };
  };

  Connector.prototype.reconnect = function (run, goingAway) {
    var self = this;
    if (!this.state) return;
    var attempt = this.attempts++;
    // A hub going away asks for a prompt reconnect; spread clients out a little.
    var delay = goingAway ? 100 + Math.random() * 900 :
      backoff(attempt, this.config.reconnectDelay, this.config.reconnectMaxDelay);
    this.reconnectTimer = setTimeout(function () {
      if (run !== self.streamRun || !self.state) return;
      if (attempt < 2 || goingAway) {
        self.connect();
        return;
      }
      // Failing again: is the chat still there for us (token expired, conversation gone)?
      // And is it the hub that is away, or only its WebSocket?
      self.request('GET', self.conversationPath(self.state.conversationId))
        .then(function () {
          if (run !== self.streamRun) return;
          // WebSockets failed twice right after plain HTTP worked: something on the way
          // blocks them. Long-poll from now on.
          if (self.socketRefusals >= 2 && self.transport === 'websocket') {
            self.log('warn', 'WebSocket unavailable: long-polling instead');
            self.transport = 'poll';
          }
          self.connect(true);
        }, function (error) {
          if (!retryable(error)) self.abandon();
          else if (run === self.streamRun) self.reconnect(run, false);
        });
    }, delay);
  };

  Connector.prototype.poll = function (run) {
    var self = this;
    if (run !== this.streamRun || !this.state) return;
    var abort = root.AbortController ? new root.AbortController() : null;
    this.pollAbort = abort;
    this.request('GET', this.eventsPath() + '?after=' + this.state.seq + '&wait=' +
      this.config.pollWait, {signal: abort && abort.signal})
      .then(function (page) {
        if (run !== self.streamRun) return;
        self.attempts = 0;
        var events = page.events || [];
        for (var i = 0; i < events.length && self.state; i++) {
          if (!self.receive(events[i])) break;
        }
        self.poll(run);
      }, function (error) {
        if (run !== self.streamRun) return;
        if (!retryable(error)) {
          self.abandon();
          return;
        }
        var delay = backoff(self.attempts++, self.config.reconnectDelay,
          self.config.reconnectMaxDelay);
        self.reconnectTimer = setTimeout(function () { self.poll(run); }, delay);
      });
  };

  // One envelope: applied once, in seq order. False on a gap (the caller resumes).
  Connector.prototype.receive = function (envelope) {
    if (!this.state || !envelope || typeof envelope.seq !== 'number') return true;
    if (envelope.conversationId && envelope.conversationId !== this.state.conversationId) {
      return true;
    }
    if (envelope.seq <= this.state.seq) return true;  // seen already
    if (envelope.seq !== this.state.seq + 1) return false;
    this.apply(envelope.action, envelope.data || {});
    if (!this.state) return true;
    this.state.seq = envelope.seq;
    this.save();
    var hub = envelope.action === 'setExternalInfo' && envelope.data && envelope.data.hub;
    if (hub && hub.status === 'assigned') this.state.attended = true;
    if (hub && ENDED[hub.status]) this.finish();
    return true;
  };

  // What the user reads while waiting: the position and the estimated wait when the hub has
  // them (the label changes with what is known, so no "number null").
  function queueMessage(data) {
    var replacements = assign({}, data.replacements);
    var position = replacements.position;
    var wait = replacements.estimatedWait;
    var hasPosition = typeof position === 'number';
    var hasWait = typeof wait === 'number';
    if (hasWait) replacements.estimatedWaitMinutes = Math.max(1, Math.ceil(wait / 60));
    var label = hasPosition ? (hasWait ? 'queue-position' : 'queue-position-no-estimate') :
      (hasWait ? 'queue-wait' : 'wait-for-agent');
    return assign({}, data, {message: label, replacements: replacements});
  }

  Connector.prototype.apply = function (action, data) {
    if (action === 'displaySystemMessage' && data.message === 'queue-position') {
      data = queueMessage(data);
    }
    this.sdk(action, data);
    var hubId = action === 'displayChatbotMessage' && data.custom && data.custom.externalId;
    if (hubId) {
      this.lastAgentMessage = hubId;
      if (data.media && data.media.id && this.state) this.state.media[hubId] = data.media.id;
      this.scheduleRead();
    } else if (action === 'updateMessage' && data.action === 'UPDATE_EXTERNAL' && this.state) {
      var media = this.state.media[data.id];
      if (media) this.state.media[data.newExternalId] = media;
    }
  };

  // ---- adapter/src/ending.js ----

  // The end of a chat: the stream has already given the chat back to the bot (name, icon,
  // chat-closed, input); the adapter hides its buttons, forgets the chat, and asks for a
  // rating when a person took part.

  Connector.prototype.finish = function (options) {
    var chat = this.state;
    var quiet = options && options.quiet;
    this.disconnect();
    this.stopTyping();
    if (this.typingBound) {
      root.document.removeEventListener('input', this.typingBound, true);
      this.typingBound = null;
    }
    this.state = null;
    this.lastAgentMessage = this.lastRead = null;
    this.displayed = [];
    if (this.config.uploadButton) this.sdk('hideUploadMediaButton');
    if (chat.closeButtonWas === false) this.sdk('hideCloseButton');
    this.save({last: {conversationId: chat.conversationId, token: chat.token, media: chat.media}});
    if (!quiet && chat.attended && this.config.survey) this.askRating(chat);
  };

  // The chat cannot go on (its token expired, it is gone): back to the bot, locally.
  Connector.prototype.abandon = function () {
    if (!this.state) return;
    this.log('warn', 'the chat ' + this.state.conversationId + ' cannot be resumed');
    this.sdk('hideChatbotActivity');
    this.sdk('setChatbotName', {source: 'default'});
    this.sdk('setChatbotIcon', {source: 'default'});
    this.sdk('displaySystemMessage', {message: 'chat-lost', translate: true});
    this.sdk('enableInput');
    this.finish({quiet: true});
  };

  // ---- adapter/src/survey.js ----

  // The satisfaction survey, as Inbenta's live chat shows it: in the SDK's custom
  // conversation window at the end of a chat, kept across a reload until answered or
  // skipped. The rating goes to POST /v1/conversations/{id}/rating with the chat's token.

  var SURVEY_FORM = 'offload-hub-survey';

  Connector.prototype.surveyHtml = function () {
    var t = this.config.survey;
    var options = '';
    for (var i = 0; i < t.ratings.length; i++) {
      var id = SURVEY_FORM + '-rating-' + (i + 1);
      options += '<p><input type="radio" name="rating" required value="' + (i + 1) + '" id="' +
        id + '"> <label for="' + id + '">' + escapeHtml(t.ratings[i]) + '</label></p>';
    }
    return '<form id="' + SURVEY_FORM + '" class="offload-hub-survey" aria-labelledby="' +
      SURVEY_FORM + '-title">' +
      '<h3 id="' + SURVEY_FORM + '-title">' + escapeHtml(t.title) + '</h3>' +
      '<fieldset><legend>' + escapeHtml(t.question) + '</legend>' + options + '</fieldset>' +
      '<p><label for="' + SURVEY_FORM + '-comment">' + escapeHtml(t.comment) + '</label><br>' +
      '<textarea id="' + SURVEY_FORM + '-comment" name="comment" rows="3" maxlength="2000">' +
      '</textarea></p>' +
      '<p><button type="submit">' + escapeHtml(t.send) + '</button> ' +
      '<button type="button" data-offload-hub-survey="skip">' + escapeHtml(t.skip) +
      '</button></p></form>';
  };

  Connector.prototype.askRating = function (chat) {
    this.save({survey: {conversationId: chat.conversationId, token: chat.token}});
    this.sdk('showCustomConversationWindow', {content: this.surveyHtml()});
  };

  // After a reload: a survey not yet answered is shown again.
  Connector.prototype.surveyPending = function () {
    if (this.config.survey && this.load().survey && !this.active()) {
      this.sdk('showCustomConversationWindow', {content: this.surveyHtml()});
    }
  };

  Connector.prototype.closeSurvey = function () {
    this.save({survey: null});
    this.sdk('hideCustomConversationWindow');
  };

  // The window's HTML is the SDK's to draw: its form is found by id when it is used.
  Connector.prototype.watchSurvey = function () {
    var self = this;
    var document = root.document;
    document.addEventListener('submit', function (event) {
      var form = event.target;
      if (!form || form.id !== SURVEY_FORM) return;
      event.preventDefault();
      var pending = self.load().survey;
      var chosen = form.querySelector('input[name="rating"]:checked');
      if (!pending || !chosen) return;
      var comment = text(form.querySelector('textarea[name="comment"]').value, 2000).trim();
      var body = {value: chosen.value};
      if (comment) body.comment = comment;
      self.closeSurvey();
      self.withRetries(4, function () {
        return self.request('POST', self.conversationPath(pending.conversationId) + '/rating',
          {json: body, token: pending.token});
      }).then(function () {
        self.sdk('displaySystemMessage', {message: 'survey-thanks', translate: true});
      }, function (error) {
        self.log('warn', 'the rating could not be sent: ' + error.message, error);
      });
    }, true);
    document.addEventListener('click', function (event) {
      var target = event.target;
      if (target && target.getAttribute &&
          target.getAttribute('data-offload-hub-survey') === 'skip' &&
          target.closest && target.closest('#' + SURVEY_FORM)) {
        self.closeSurvey();
      }
    }, true);
  };

  // ---- adapter/src/restore.js ----

  // After a page reload: the open chat is read back from the hub and its stream resumed
  // from the last seq applied. Every SDK call is guarded: one that fails never stops it.

  Connector.prototype.restore = function () {
    var self = this;
    var saved = this.load();
    if (saved.escalation && !saved.chat) {
      // The page went away while escalating: the same key gives the same conversation.
      this.sdk('disableInput');
      this.postEscalation(saved.escalation.body, saved.escalation.key);
      return;
    }
    if (!saved.chat || !saved.chat.conversationId) return;
    this.state = saved.chat;
    this.state.pending = this.state.pending || [];
    this.state.media = this.state.media || {};
    this.withRetries(4, function () {
      return self.request('GET', self.conversationPath(self.state.conversationId));
    }).then(function (snapshot) {
      if (self.state) self.resume(snapshot);
    }, function (error) {
      if (!self.state) return;
      if (retryable(error)) {
        self.connect();  // the hub is unreachable for now: the stream keeps trying
      } else {
        self.abandon();
      }
    });
  };

  Connector.prototype.resume = function (snapshot) {
    var state = this.state;
    this.replayLostHistory(snapshot, state.seq);
    var open = !ENDED[snapshot.status];
    if (snapshot.status === 'assigned' || snapshot.agent) state.attended = true;
    if (open) {
      if (snapshot.status === 'assigned' && snapshot.agent) {
        this.sdk('setChatbotName', {source: 'name', name: snapshot.agent.name});
        if (snapshot.agent.icon) this.sdk('setChatbotIcon', {source: 'url', url: snapshot.agent.icon});
        if (snapshot.agentTyping) {
          this.sdk('displayChatbotActivity', {type: 'writing', name: snapshot.agent.name});
        }
      }
      this.showChatControls();
      this.watchTyping();
      var messages = snapshot.messages || [];
      for (var i = messages.length - 1; i >= 0; i--) {
        if (messages[i].author === 'agent' && messages[i].seq <= state.seq) {
          this.lastAgentMessage = messages[i].externalId;
          break;
        }
      }
      this.scheduleRead();
    }
    // What was on its way when the page went away: sent again (the hub keeps one per id).
    var pending = state.pending.slice();
    state.pending = [];
    for (var j = 0; j < pending.length; j++) {
      if (pending[j].upload) {
        this.tick({id: pending[j].id, action: 'ERROR_TICK'});
      } else if (open) {
        state.pending.push(pending[j]);
        this.enqueue(pending[j]);
      }
    }
    this.save();
    if (!open && state.seq >= snapshot.lastSeq) {
      this.finish();
      return;
    }
    this.connect();
  };

  // The SDK restores its own messages after a reload. If it did not (none of the chat's
  // messages up to the last applied seq are in its transcript), they are shown again from
  // the hub's snapshot, so nothing the user saw is lost. Agent messages carry the hub's id in
  // custom.externalId (displayChatbotMessage has no externalId of its own).
  Connector.prototype.replayLostHistory = function (snapshot, seq) {
    var messages = (snapshot.messages || []).filter(function (m) { return m.seq <= seq; });
    if (!messages.length) return;
    var items = this.sdk('getConversationTranscript', {maxInteractions: 1000});
    if (!Array.isArray(items)) return;  // no transcript to compare with: replay nothing
    var known = {};
    for (var i = 0; i < items.length; i++) {
      var item = items[i] || {};
      if (item.externalId) known['x' + item.externalId] = true;
      if (item.id !== undefined) known['i' + item.id] = true;
      known['m' + item.user + ':' + item.message] = true;
    }
    for (var j = 0; j < messages.length; j++) {
      var m = messages[j];
      var user = m.author === 'user' ? 'guest' : 'assistant';
      if (known['x' + m.externalId] || (m.id && known['i' + m.id]) ||
          known['m' + user + ':' + m.message]) {
        return;  // the SDK has its history
      }
    }
    var ticks = {waiting: 'WAITING_TICK', delivered: 'SINGLE_TICK', read: 'DOUBLE_TICK',
      failed: 'ERROR_TICK'};
    for (var k = 0; k < messages.length; k++) {
      var message = messages[k];
      var media = message.media ? assign({}, message.media) : undefined;
      if (message.author === 'agent') {
        var data = {type: 'answer', message: media && !message.message ? 'void' : message.message,
          custom: {externalId: message.externalId, agentName: message.agentName}};
        if (media) data.media = media;
        this.sdk('displayChatbotMessage', data);
      } else {
        var id = this.sdk('displayUserMessage', media ?
          {message: message.message, media: media} : {message: message.message});
        if (typeof id === 'string') {
          this.tick({id: id, action: 'UPDATE_EXTERNAL', newExternalId: message.externalId});
          if (ticks[message.status]) {
            this.tick({externalId: message.externalId, action: ticks[message.status]});
          }
        }
      }
      if (media && this.state) this.state.media[message.externalId] = media.id;
    }
  };

  // ---- adapter/src/exports.js ----

  // What the page sees: window.OffloadHub.

  // GET /v1/availability with the bot's public id: whether to offer a person at all.
  function availability(options) {
    var config = assign({}, DEFAULTS, options);
    var hubUrl = (config.hubUrl || root.location.origin).replace(/\/+$/, '');
    var query = [];
    if (config.queue) query.push('queue=' + encodeURIComponent(config.queue));
    if (config.language) query.push('language=' + encodeURIComponent(config.language));
    if (config.skills) query.push('skills=' + encodeURIComponent([].concat(config.skills).join(',')));
    var fetchImpl = config.fetch || root.fetch.bind(root);
    return fetchImpl(hubUrl + '/v1/availability' + (query.length ? '?' + query.join('&') : ''), {
      headers: {'X-Bot-Id': config.botId},
      mode: 'cors',
      credentials: 'omit'
    }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) throw new HubError(response.status, body);
        return body;
      });
    });
  }

  // The checkAgents function Inbenta's escalation adapters take: a promise of
  // {agentsAvailable}, from the hub's availability.
  function checkAgents(options) {
    return function () {
      return availability(options).then(function (answer) {
        return {agentsAvailable: answer.open === true};
      }, function () {
        return {agentsAvailable: false};
      });
    };
  }

  root.OffloadHub = {
    version: VERSION,
    adapter: adapter,
    availability: availability,
    checkAgents: checkAgents,
    labels: assign({}, LABELS)
  };
})(window);
