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
