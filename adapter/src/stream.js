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
