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
