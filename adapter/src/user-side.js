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
