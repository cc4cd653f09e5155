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
