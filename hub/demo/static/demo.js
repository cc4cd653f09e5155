/*
 * The demo page: a tiny rule-based bot in the demo widget, with the offload-hub adapter.
 * Ask for a person (or pick "Talk to a person") and the chat goes to the hub's desk.
 */
(function () {
  'use strict';

  var page = document.getElementById('demo');
  var params = new URLSearchParams(window.location.search);
  var visitor = params.get('name') || 'Demo visitor';
  var HUMAN = /\b(human|person|people|agent|someone|somebody|operator)\b/i;
  var ORDER = /\b(order|parcel|package|delivery|shipping)\b/i;

  function reply(chatBot, message, options) {
    var data = {type: options ? 'multipleChoiceQuestion' : 'answer', message: message};
    if (options) data.options = options;
    chatBot.actions.displayChatbotMessage(data);
  }

  // What the user asked before asking for a person: the inquiry the agent sees first.
  function inquiry(chatBot, fallback) {
    var items = chatBot.actions.getConversationTranscript({maxInteractions: 50});
    for (var i = items.length - 1; i >= 0; i--) {
      var item = items[i];
      if (item.user === 'guest' && item.message && !HUMAN.test(item.message) &&
          item.message !== 'Talk to a person') {
        return item.message;
      }
    }
    return fallback;
  }

  // The bot: what the Inbenta API would answer, for three kinds of questions.
  function answer(messageData, chatBot) {
    var text = messageData.message || '';
    var option = messageData.userActivityOptions;
    if (option === 'human' || HUMAN.test(text)) {
      reply(chatBot, 'Of course: let me find you a person.');
      chatBot.actions.escalateToAgent({
        name: visitor,
        inquiry: inquiry(chatBot, text),
        page: window.location.pathname
      });
    } else if (option === 'order' || ORDER.test(text)) {
      reply(chatBot, 'Orders usually arrive within <b>3 working days</b>. ' +
        'If yours is late, a person can look it up for you.',
        [{label: 'Talk to a person', value: 'human'}]);
    } else {
      reply(chatBot, 'I am a very small demo bot: I only know about orders. ' +
        'Ask for a person to talk to a human.',
        [{label: 'Where is my order?', value: 'order'}, {label: 'Talk to a person', value: 'human'}]);
    }
  }

  var labels = Object.assign({}, window.OffloadHub.labels, {
    'agent-writing': '{name} is typing…',
    'bot-writing': 'Typing…',
    'no-escalation': 'Nobody can take this chat.',
    'exit-conversation': 'Do you want to end this conversation?',
    'yes': 'Yes',
    'no': 'No'
  });

  window.demoChatbot = window.DemoChatbot.build(document.getElementById('demo-chatbot'), {
    name: 'Demo bot',
    icon: page.dataset.botIcon,
    labels: labels,
    storageKey: 'offload-hub-demo-chatbot',
    answer: answer,
    // ?close=reset: a close button that resets without asking (some SDK builds do).
    closeConfirmation: params.get('close') !== 'reset',
    welcome: {
      type: 'multipleChoiceQuestion',
      message: 'Hi! I am the offload-hub demo bot. What can I do for you?',
      options: [{label: 'Where is my order?', value: 'order'},
        {label: 'Talk to a person', value: 'human'}]
    },
    adapters: [
      window.OffloadHub.adapter({
        hubUrl: window.location.origin,
        botId: page.dataset.botId,
        transport: params.get('transport') || 'websocket',
        typingInput: '#demo-chatbot .chatbot-input'
      })
    ]
  });
})();
