/*
 * A small chatbot widget for the offload-hub demo, with the same surface as the Inbenta
 * Chatbot SDK: chatBot.actions.<action>(data) and chatBot.subscriptions.on<Action>(fn),
 * subscriptions running as a middleware chain (each calls next(...) to pass on) before
 * the widget's own behaviour, and adapters given at build time.
 *
 * It is the stand-in for the real SDK on the demo page; it keeps its session (messages,
 * name, icon, input state) in sessionStorage, as the SDK does, so a reload restores it.
 * Not a product: the offload-hub adapter is (hub/static/offload-hub-adapter.js).
 */
(function (root) {
  'use strict';

  // Actions whose subscriptions receive (data, next); the others receive (next).
  var WITH_DATA = [
    'displayChatbotMessage', 'displaySystemMessage', 'displayUserMessage',
    'displayChatbotActivity', 'sendMessage', 'setChatbotName', 'setChatbotIcon',
    'updateMessage', 'escalateToAgent', 'setExternalInfo', 'uploadMedia', 'downloadMedia',
    'selectSystemMessageOption', 'getConversationTranscript', 'setSessionData',
    'showSideWindow', 'showCustomConversationWindow', 'suggestAnswer',
    'updateConfiguration', 'rateContent'
  ];
  var WITHOUT_DATA = [
    'disableInput', 'enableInput', 'hideChatbotActivity', 'getSessionData', 'resetSession',
    'showCloseButton', 'hideCloseButton', 'showUploadMediaButton', 'hideUploadMediaButton',
    'showConversationWindow', 'hideConversationWindow', 'hideCustomConversationWindow',
    'closeSideWindow'
  ];
  var EVENTS = ['ready', 'domReady'];
  var TICKS = {
    WAITING_TICK: {name: 'waiting', glyph: '…', title: 'Sending'},
    SINGLE_TICK: {name: 'single', glyph: '✓', title: 'Sent'},
    DOUBLE_TICK: {name: 'double', glyph: '✓✓', title: 'Read'},
    ERROR_TICK: {name: 'error', glyph: '!', title: 'Not delivered'}
  };
  var TICK_BY_NAME = {};
  Object.keys(TICKS).forEach(function (k) { TICK_BY_NAME[TICKS[k].name] = TICKS[k]; });

  var ALLOWED_TAGS = {
    A: 1, B: 1, STRONG: 1, I: 1, EM: 1, U: 1, BR: 1, P: 1, UL: 1, OL: 1, LI: 1, CODE: 1,
    PRE: 1, SPAN: 1, DIV: 1, BLOCKQUOTE: 1
  };

  function capitalise(name) {
    return name.charAt(0).toUpperCase() + name.slice(1);
  }

  function el(tag, attributes, children) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (key) {
      var value = attributes[key];
      if (value === null || value === undefined || value === false) return;
      if (key === 'text') node.textContent = value;
      else if (key === 'className') node.className = value;
      else if (key.indexOf('on') === 0) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? '' : value);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  // Chatbot answers are HTML: kept to an allow-list of tags, links to http(s) and mailto.
  function sanitise(html) {
    var template = document.createElement('template');
    template.innerHTML = String(html || '');
    var out = document.createDocumentFragment();
    function copy(source, target) {
      source.childNodes.forEach(function (node) {
        if (node.nodeType === 3) {
          target.appendChild(document.createTextNode(node.textContent));
        } else if (node.nodeType === 1 && ALLOWED_TAGS[node.tagName]) {
          var clean = document.createElement(node.tagName);
          if (node.tagName === 'A') {
            var href = node.getAttribute('href') || '';
            if (/^(https?:|mailto:)/i.test(href)) {
              clean.setAttribute('href', href);
              clean.setAttribute('target', '_blank');
              clean.setAttribute('rel', 'noopener noreferrer');
            }
          }
          copy(node, clean);
          target.appendChild(clean);
        } else if (node.nodeType === 1 && !/^(SCRIPT|STYLE|TEMPLATE|IFRAME|OBJECT)$/.test(node.tagName)) {
          copy(node, target);  // an unknown element: its text stays
        }
      });
    }
    copy(template.content, out);
    return out;
  }

  function build(container, options) {
    var config = Object.assign({
      name: 'Chatbot',
      icon: null,
      labels: {},
      adapters: [],
      storageKey: 'demo-chatbot',
      answer: null,
      welcome: null,
      typingInputClass: 'chatbot-input',
      // As the SDK's close button: ask first (a modal system message with the id
      // exitConversation; "yes" resets the session), or reset at once (false).
      closeConfirmation: true
    }, options);
    var labels = Object.assign({}, config.labels);
    var chains = {};
    var chatBot = {actions: {}, subscriptions: {}, api: {}};
    var state = load() || fresh();
    var activity = null;
    var nextNumber = 1;

    // -- the session, kept across reloads ---------------------------------------------------

    function fresh() {
      return {
        sessionId: 'demo-' + Math.random().toString(36).slice(2) + Date.now().toString(36),
        messages: [],
        name: null,
        icon: null,
        inputDisabled: false,
        closeButton: true,
        uploadButton: false,
        visible: true,
        externalInfo: null,
        sideWindow: null,
        modal: null,
        custom: null
      };
    }

    function load() {
      try {
        var saved = JSON.parse(root.sessionStorage.getItem(config.storageKey) || 'null');
        return saved && Array.isArray(saved.messages) ? saved : null;
      } catch (e) {
        return null;
      }
    }

    function save() {
      try {
        root.sessionStorage.setItem(config.storageKey, JSON.stringify(state));
      } catch (e) { /* private mode: no restore */ }
    }

    function newId() {
      var id;
      do {
        id = 'm' + Date.now().toString(36) + '-' + (nextNumber++) + '-' +
          Math.random().toString(36).slice(2, 8);
      } while (find(id));
      return id;
    }

    function find(id, externalId) {
      for (var i = state.messages.length - 1; i >= 0; i--) {
        var m = state.messages[i];
        if (externalId ? m.externalId === externalId : m.id === id) return m;
      }
      return null;
    }

    function translate(message, translateIt, replacements) {
      var out = translateIt && Object.prototype.hasOwnProperty.call(labels, message) ?
        labels[message] : String(message === undefined || message === null ? '' : message);
      Object.keys(replacements || {}).forEach(function (key) {
        var value = replacements[key];
        out = out.split('{' + key + '}').join(value === null || value === undefined ? '' : value);
      });
      return out;
    }

    function currentName() {
      return state.name || config.name;
    }

    function currentIcon() {
      return state.icon || config.icon;
    }

    function add(message) {
      message.id = message.id || newId();
      message.datetime = message.datetime || new Date().toISOString();
      state.messages.push(message);
      changed();
      return message.id;
    }

    // -- the built-in behaviour of each action (the end of its chain) ------------------------

    var builtins = {
      displayChatbotMessage: function (data) {
        data = data || {};
        return add({
          user: 'assistant',
          type: data.type || 'answer',
          message: data.message || '',
          options: data.options || null,
          externalId: null,
          media: data.media || null,
          custom: data.custom || null,
          agentName: currentName(),
          agentIcon: currentIcon()
        });
      },
      displayUserMessage: function (data) {
        data = data || {};
        return add({
          user: 'guest',
          message: data.message || '',
          media: data.media || null,
          custom: data.custom || null,
          externalId: null,
          tick: null
        });
      },
      displaySystemMessage: function (data) {
        data = data || {};
        if (data.modal) {
          // Shown over the chat until answered; not part of the conversation.
          state.modal = {id: data.id || null,
            message: translate(data.message, data.translate, data.replacements),
            options: (data.options || []).map(function (option) {
              return Object.assign({}, option, {text: translate(option.label, data.translate)});
            })};
          changed();
          return undefined;
        }
        var id = newId();
        add({
          id: id,
          user: 'system',
          message: translate(data.message, data.translate, data.replacements),
          options: (data.options || []).map(function (option) {
            return Object.assign({}, option, {
              text: translate(option.label, data.translate, null)
            });
          }),
          selected: null
        });
        return id;
      },
      displayChatbotActivity: function (data) {
        data = data || {};
        if (data.message) activity = translate(data.message, data.translate, null);
        else if (data.name) activity = translate('agent-writing', true, {name: data.name});
        else activity = translate('bot-writing', true, null);
        renderActivity();
      },
      hideChatbotActivity: function () {
        activity = null;
        renderActivity();
      },
      sendMessage: function (data) {
        if (config.answer) config.answer(data || {}, chatBot);
      },
      escalateToAgent: function () {
        builtins.displaySystemMessage({message: 'no-escalation', translate: true});
      },
      setChatbotName: function (data) {
        state.name = data && data.source === 'name' && data.name ? data.name : null;
        changed();
      },
      setChatbotIcon: function (data) {
        state.icon = data && data.source === 'url' && data.url ? data.url : null;
        changed();
      },
      updateMessage: function (data) {
        data = data || {};
        var message = data.externalId ? find(null, data.externalId) : find(data.id);
        if (!message) throw new Error('updateMessage: no message ' + (data.externalId || data.id));
        if (data.action === 'UPDATE_EXTERNAL') message.externalId = data.newExternalId;
        else if (TICKS[data.action]) message.tick = TICKS[data.action].name;
        changed();
      },
      disableInput: function () {
        state.inputDisabled = true;
        changed();
      },
      enableInput: function () {
        state.inputDisabled = false;
        changed();
      },
      setExternalInfo: function (data) {
        state.externalInfo = data || null;
        save();
      },
      uploadMedia: function (data) {
        // Nobody to send the file to without an adapter.
        if (data && data.messageId && find(data.messageId)) {
          builtins.updateMessage({id: data.messageId, action: 'ERROR_TICK'});
        }
      },
      downloadMedia: function () {},
      selectSystemMessageOption: function (data) {
        if (data && data.id === 'exitConversation') {
          // The close button's confirmation: "yes" resets the session.
          if (data.option && data.option.value === 'yes') chatBot.actions.resetSession();
          return;
        }
        var message = data && find(data.id);
        if (message) {
          message.selected = data.option ? data.option.value : null;
          changed();
        }
      },
      getConversationTranscript: function (data) {
        var max = data && data.maxInteractions ? data.maxInteractions : 50;
        return state.messages.filter(function (m) { return m.user !== 'system'; })
          .slice(-max).map(function (m) {
            var item = {user: m.user, message: m.message, datetime: m.datetime, id: m.id};
            if (m.externalId) item.externalId = m.externalId;
            if (m.user === 'assistant') {
              item.type = m.type;
              item.agentName = m.agentName;
              if (m.agentIcon) item.agentIcon = m.agentIcon;
              if (m.options) item.options = m.options;
            }
            return item;
          });
      },
      getSessionData: function () {
        return {
          sessionId: state.sessionId,
          messages: JSON.parse(JSON.stringify(state.messages)),
          visible: state.visible,
          closeButtonVisible: state.closeButton,
          sessionToken: null,
          sessionExpiration: null,
          position: null,
          sideWindow: state.sideWindow
        };
      },
      setSessionData: function (data) {
        state = Object.assign(fresh(), state, {messages: (data && data.messages) || []});
        changed();
      },
      resetSession: function () {
        state = fresh();
        activity = null;
        renderActivity();
        changed();
        welcome();
      },
      showCloseButton: function () { state.closeButton = true; changed(); },
      hideCloseButton: function () { state.closeButton = false; changed(); },
      showUploadMediaButton: function () { state.uploadButton = true; changed(); },
      hideUploadMediaButton: function () { state.uploadButton = false; changed(); },
      showConversationWindow: function () { state.visible = true; changed(); },
      hideConversationWindow: function () { state.visible = false; changed(); },
      showSideWindow: function (data) {
        state.sideWindow = {title: (data && data.sideWindowTitle) || '',
          content: (data && data.sideWindowContent) || ''};
        changed();
      },
      closeSideWindow: function () { state.sideWindow = null; changed(); },
      showCustomConversationWindow: function (data) {
        state.custom = (data && data.content) || '';
        changed();
      },
      hideCustomConversationWindow: function () { state.custom = null; changed(); },
      suggestAnswer: function (data) {
        dom.input.value = (data && data.message) || '';
      },
      updateConfiguration: function (data) {
        if (data && data.labels) Object.assign(labels, data.labels);
        changed();
      },
      rateContent: function () {}
    };

    // -- actions and subscriptions: the middleware chain -------------------------------------

    function dispatch(name, args) {
      var handlers = chains[name];
      function step(index, current) {
        if (index < handlers.length) {
          var next = function () {
            return step(index + 1, arguments.length ? Array.prototype.slice.call(arguments) :
              current);
          };
          return handlers[index].apply(null, current.concat([next]));
        }
        return builtins[name] ? builtins[name].apply(null, current) : undefined;
      }
      return step(0, args);
    }

    WITH_DATA.forEach(function (name) {
      chains[name] = [];
      chatBot.actions[name] = function (data) { return dispatch(name, [data]); };
    });
    WITHOUT_DATA.concat(EVENTS).forEach(function (name) {
      chains[name] = [];
      if (EVENTS.indexOf(name) < 0) {
        chatBot.actions[name] = function () { return dispatch(name, []); };
      }
    });
    Object.keys(chains).forEach(function (name) {
      chatBot.subscriptions['on' + capitalise(name)] = function (handler) {
        chains[name].push(handler);
      };
    });

    // -- the window ------------------------------------------------------------------------
    //
    // Messages are drawn once and then updated in place (ticks, options no longer usable),
    // so the log, a live region, announces each new message once and nothing else. Focus
    // stays in the widget while the user is in it: into the window when it opens, to the
    // input when it can be used, back to the launcher when the window closes; Escape
    // closes the window (in the close question: answers no).

    var dom = {};
    dom.launcher = el('button', {type: 'button', className: 'chatbot-launcher', text: 'Chat',
      'aria-label': 'Open chat',
      onclick: function () { chatBot.actions.showConversationWindow(); }});
    dom.icon = el('img', {className: 'chatbot-icon', alt: ''});
    dom.name = el('h2', {className: 'chatbot-name'});
    dom.close = el('button', {type: 'button', className: 'chatbot-close',
      'aria-label': 'Close chat', title: 'Close chat', text: '×',
      onclick: closeChat});
    dom.minimise = el('button', {type: 'button', className: 'chatbot-minimise',
      'aria-label': 'Minimise chat', title: 'Minimise chat', text: '–',
      onclick: function () { chatBot.actions.hideConversationWindow(); }});
    dom.list = el('ol', {className: 'chatbot-messages'});
    // The log scrolls, so it takes focus (keyboard users scroll it with the arrow keys).
    dom.log = el('div', {className: 'chatbot-log', role: 'log', 'aria-label': 'Conversation',
      'aria-relevant': 'additions', tabindex: '0'}, [dom.list]);
    dom.activity = el('p', {className: 'chatbot-activity', role: 'status'});
    dom.side = el('aside', {className: 'chatbot-side', 'aria-label': 'More information'});
    dom.input = el('textarea', {className: config.typingInputClass, rows: '1',
      'aria-label': 'Your message', placeholder: 'Write a message'});
    dom.send = el('button', {type: 'submit', className: 'chatbot-send', text: 'Send'});
    dom.file = el('input', {type: 'file', className: 'chatbot-file-input', 'aria-label': 'File',
      tabindex: '-1'});
    dom.attach = el('button', {type: 'button', className: 'chatbot-attach', text: '+',
      'aria-label': 'Attach a file', title: 'Attach a file',
      onclick: function () { dom.file.click(); }});
    dom.form = el('form', {className: 'chatbot-form'},
      [dom.attach, dom.file, dom.input, dom.send]);
    dom.modal = el('div', {className: 'chatbot-modal', role: 'alertdialog',
      'aria-modal': 'true', 'aria-label': 'Confirm'});
    dom.custom = el('div', {className: 'chatbot-custom'});
    dom.window = el('section', {className: 'chatbot-window', 'aria-label': 'Chat'}, [
      el('header', {className: 'chatbot-header'}, [dom.icon, dom.name, dom.minimise, dom.close]),
      dom.log, dom.activity, dom.side, dom.custom, dom.form, dom.modal
    ]);
    container.classList.add('chatbot');
    container.appendChild(dom.window);
    container.appendChild(dom.launcher);

    function submit() {
      var message = dom.input.value.trim();
      if (!message || state.inputDisabled) return;
      dom.input.value = '';
      chatBot.actions.displayUserMessage({message: message});
      chatBot.actions.sendMessage({message: message});
    }

    dom.form.addEventListener('submit', function (event) {
      event.preventDefault();
      submit();
    });
    dom.input.addEventListener('keydown', function (event) {
      if (event.key === 'Enter' && !event.shiftKey) {
        event.preventDefault();
        submit();
      }
    });
    dom.file.addEventListener('change', function () {
      Array.prototype.forEach.call(dom.file.files, function (file) {
        var id = chatBot.actions.displayUserMessage({message: '', media: {name: file.name}});
        chatBot.actions.uploadMedia({messageId: id, file: file});
      });
      dom.file.value = '';
    });
    dom.window.addEventListener('keydown', function (event) {
      if (event.key !== 'Escape') return;
      event.preventDefault();
      if (state.modal) {
        var no = state.modal.options.filter(function (option) { return option.value === 'no'; });
        if (no.length) answerModal(state.modal, no[0]);
      } else {
        chatBot.actions.hideConversationWindow();
      }
    });
    // The close question keeps Tab among its answers.
    dom.modal.addEventListener('keydown', function (event) {
      if (event.key !== 'Tab') return;
      var buttons = dom.modal.querySelectorAll('button');
      if (!buttons.length) return;
      var first = buttons[0];
      var last = buttons[buttons.length - 1];
      if (event.shiftKey && document.activeElement === first) {
        event.preventDefault();
        last.focus();
      } else if (!event.shiftKey && document.activeElement === last) {
        event.preventDefault();
        first.focus();
      }
    });

    function mediaLink(message) {
      var id = message.id;
      return el('button', {type: 'button', className: 'chatbot-media', text: '↓ ' + message.media.name,
        onclick: function () {
          var current = find(id);
          if (!current) return;
          chatBot.actions.downloadMedia({messageId: current.id,
            messageExternalId: current.externalId, file: current.media});
        }});
    }

    function lastOf(user) {
      for (var i = state.messages.length - 1; i >= 0; i--) {
        if (!user || state.messages[i].user === user) return state.messages[i];
      }
      return null;
    }

    // Whether a message's option buttons can still be used.
    function optionsOpen(message) {
      if (message.user === 'system') return message.selected === null && lastOf() === message;
      return !message.clicked && lastOf('assistant') === message;
    }

    // What a message shows that does not change once drawn: another value draws it anew.
    function looks(message) {
      return JSON.stringify([message.user, message.message, message.media, message.agentName,
        message.agentIcon, message.options]);
    }

    function chooseOption(id, option) {
      var message = find(id);
      if (!message || !optionsOpen(message)) return;
      if (message.user === 'system') {
        chatBot.actions.selectSystemMessageOption({id: id, option: {
          label: option.label, value: option.value}});
        return;
      }
      message.clicked = true;
      changed();
      chatBot.actions.displayUserMessage({message: option.label});
      chatBot.actions.sendMessage({message: option.label, userActivityOptions: option.value});
    }

    function optionButtons(message) {
      var id = message.id;
      return el('div', {className: 'chatbot-options'}, message.options.map(function (option) {
        var button = el('button', {type: 'button',
          text: message.user === 'system' ? option.text : option.label,
          onclick: function () { chooseOption(id, option); }});
        button.dataset.value = option.value;
        return button;
      }));
    }

    function drawMessage(message) {
      var node = el('li', {className: 'chatbot-message from-' + message.user,
        'data-id': message.id});
      if (message.user === 'guest') {
        node.appendChild(el('div', {className: 'chatbot-bubble'}, [
          message.message ? el('span', {className: 'chatbot-text', text: message.message}) : null,
          message.media ? mediaLink(message) : null
        ]));
        node.appendChild(el('span', {className: 'chatbot-tick'}));
      } else if (message.user === 'system') {
        node.appendChild(el('p', {className: 'chatbot-system', text: message.message}));
        if (message.options && message.options.length) node.appendChild(optionButtons(message));
      } else {
        var bubble = el('div', {className: 'chatbot-bubble'});
        bubble.appendChild(sanitise(message.message));
        if (message.media) bubble.appendChild(mediaLink(message));
        node.appendChild(el('img', {className: 'chatbot-avatar', alt: '',
          src: message.agentIcon || null}));
        node.appendChild(el('div', {className: 'chatbot-said'}, [
          el('span', {className: 'chatbot-author', text: message.agentName}),
          bubble,
          message.options && message.options.length ? optionButtons(message) : null
        ]));
      }
      node.dataset.looks = looks(message);
      return node;
    }

    // What changes on a drawn message: its ticks, its external id, its options' state.
    function updateMessage(node, message) {
      if (message.externalId) node.dataset.externalId = message.externalId;
      else delete node.dataset.externalId;
      var tickNode = node.querySelector(':scope > .chatbot-tick');
      if (tickNode) {
        var tick = TICK_BY_NAME[message.tick];
        if (message.tick) node.dataset.tick = message.tick;
        else delete node.dataset.tick;
        tickNode.hidden = !tick;
        tickNode.className = 'chatbot-tick' + (tick ? ' tick-' + tick.name : '');
        tickNode.textContent = tick ? tick.glyph : '';
        if (tick) {
          tickNode.setAttribute('role', 'img');
          tickNode.setAttribute('aria-label', tick.title);
          tickNode.title = tick.title;
        } else {
          tickNode.removeAttribute('role');
          tickNode.removeAttribute('aria-label');
          tickNode.removeAttribute('title');
        }
      }
      var open = optionsOpen(message);
      node.querySelectorAll('.chatbot-options button').forEach(function (button) {
        button.disabled = !open;
        if (message.user === 'system' && message.selected === button.dataset.value) {
          button.setAttribute('aria-pressed', 'true');
        } else {
          button.removeAttribute('aria-pressed');
        }
      });
    }

    // The log as the messages say: new ones appended, the others updated where they are.
    function renderMessages() {
      var drawn = {};
      Array.prototype.forEach.call(dom.list.children, function (node) {
        drawn[node.dataset.id] = node;
      });
      var added = false;
      state.messages.forEach(function (message, index) {
        var node = drawn[message.id];
        delete drawn[message.id];
        if (node && node.dataset.looks !== looks(message)) {
          node.remove();
          node = null;
        }
        if (!node) {
          node = drawMessage(message);
          added = true;
        }
        updateMessage(node, message);
        if (dom.list.children[index] !== node) {
          dom.list.insertBefore(node, dom.list.children[index] || null);
        }
      });
      Object.keys(drawn).forEach(function (id) { drawn[id].remove(); });
      if (added) dom.log.scrollTop = dom.log.scrollHeight;
    }

    function closeChat() {
      if (!config.closeConfirmation) {
        chatBot.actions.resetSession();
        return;
      }
      chatBot.actions.displaySystemMessage({id: 'exitConversation', modal: true,
        message: 'exit-conversation', translate: true,
        options: [{label: 'yes', value: 'yes'}, {label: 'no', value: 'no'}]});
    }

    function answerModal(modal, option) {
      state.modal = null;  // the answer closes the question, whoever handles it
      changed();
      chatBot.actions.selectSystemMessageOption({id: modal.id,
        option: {label: option.label, value: option.value}});
    }

    var modalShown = null;  // the question on screen, and where focus was before it
    var focusBeforeModal = null;

    function renderModal() {
      dom.modal.hidden = !state.modal;
      if (!state.modal) {
        dom.modal.replaceChildren();
        modalShown = null;
        return;
      }
      var modal = state.modal;
      if (modalShown === modal) return;
      modalShown = modal;
      if (!dom.modal.contains(document.activeElement)) focusBeforeModal = document.activeElement;
      dom.modal.replaceChildren(el('p', {text: modal.message}),
        el('div', {className: 'chatbot-options'}, modal.options.map(function (option) {
          return el('button', {type: 'button', text: option.text, onclick: function () {
            answerModal(modal, option);
          }});
        })));
      var firstButton = dom.modal.querySelector('button');
      if (firstButton) firstButton.focus();
    }

    // The custom conversation window takes the place of the messages and the input.
    function renderCustom() {
      var open = state.custom !== null && state.custom !== undefined;
      dom.custom.hidden = !open;
      dom.log.hidden = open;
      dom.form.hidden = open;
      if (open && dom.custom.dataset.content !== state.custom) {
        dom.custom.innerHTML = state.custom;
        dom.custom.dataset.content = state.custom;
        return true;
      } else if (!open) {
        dom.custom.replaceChildren();
        delete dom.custom.dataset.content;
      }
      return false;
    }

    function usable(node) {
      return node && !node.disabled && !node.hidden && node.checkVisibility &&
        node.checkVisibility({visibilityProperty: true});
    }

    var FOCUSABLE = 'button, [href], input:not([type="hidden"]), select, textarea, [tabindex]';

    function firstFocusable(root) {
      var all = root.querySelectorAll(FOCUSABLE);
      for (var i = 0; i < all.length; i++) {
        if (usable(all[i]) && all[i].tabIndex >= 0) return all[i];
      }
      return null;
    }

    // Into the window: the message box if it can be used, else what is open, else the log.
    function focusInside() {
      if (state.modal) return;
      if (!dom.custom.hidden) {
        var inCustom = firstFocusable(dom.custom);
        if (inCustom) {
          inCustom.focus();
          return;
        }
      }
      if (usable(dom.input)) dom.input.focus();
      else if (usable(dom.log)) dom.log.focus();
    }

    function render() {
      var wasInside = container.contains(document.activeElement);
      var wasOpen = !dom.window.hidden;
      var inputWasDisabled = dom.input.disabled;
      renderModal();
      var customOpened = renderCustom();
      dom.window.hidden = !state.visible;
      dom.launcher.hidden = state.visible;
      dom.name.textContent = currentName();
      if (currentIcon()) {
        dom.icon.src = currentIcon();
        dom.icon.hidden = false;
      } else {
        dom.icon.removeAttribute('src');
        dom.icon.hidden = true;
      }
      dom.close.hidden = !state.closeButton;
      dom.attach.hidden = !state.uploadButton;
      dom.input.disabled = state.inputDisabled;
      dom.send.disabled = state.inputDisabled;
      renderMessages();
      dom.side.hidden = !state.sideWindow;
      if (state.sideWindow) {
        dom.side.replaceChildren(el('h3', {text: state.sideWindow.title}),
          sanitise(state.sideWindow.content),
          el('button', {type: 'button', text: 'Close', onclick: function () {
            chatBot.actions.closeSideWindow();
          }}));
      }
      // Where focus goes, for someone in the widget (it is never taken from the page).
      if (!wasInside) return;
      var now = document.activeElement;
      var lost = !now || now === document.body || !usable(now);
      if (wasOpen && dom.window.hidden) {
        dom.launcher.focus();
      } else if ((!wasOpen && !dom.window.hidden) || customOpened) {
        focusInside();
      } else if (state.modal) {
        return;  // the question has focus
      } else if (lost && usable(focusBeforeModal) && dom.window.contains(focusBeforeModal)) {
        focusBeforeModal.focus();  // back from the question
        focusBeforeModal = null;
      } else if (lost || (inputWasDisabled && now === dom.log && usable(dom.input))) {
        focusInside();  // what had focus went away, or the message box can be used again
      }
    }

    function renderActivity() {
      dom.activity.hidden = activity === null;
      dom.activity.textContent = activity || '';
      dom.window.classList.toggle('chatbot-has-activity', activity !== null);
    }

    function changed() {
      save();
      render();
    }

    function welcome() {
      if (config.welcome && !state.messages.length) {
        chatBot.actions.displayChatbotMessage(config.welcome);
      }
    }

    // -- start: adapters in order, then the restored session, then ready --------------------

    config.adapters.forEach(function (adapter) { adapter(chatBot); });
    render();
    renderActivity();
    welcome();
    setTimeout(function () {
      dispatch('domReady', []);
      dispatch('ready', []);
    }, 0);
    return chatBot;
  }

  root.DemoChatbot = {build: build};
})(window);
