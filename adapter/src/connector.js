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
