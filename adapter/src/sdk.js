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
