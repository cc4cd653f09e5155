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
