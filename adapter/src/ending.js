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
