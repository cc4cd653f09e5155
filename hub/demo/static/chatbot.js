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

    var dom = {};
    dom.launcher = el('button', {type: 'button', className: 'chatbot-launcher', text: 'Chat',
      onclick: function () { chatBot.actions.showConversationWindow(); }});
    dom.icon = el('img', {className: 'chatbot-icon', alt: ''});
    dom.name = el('h2', {className: 'chatbot-name'});
    dom.close = el('button', {type: 'button', className: 'chatbot-close',
      'aria-label': 'Close chat', title: 'Close chat', text: '×',
      onclick: closeChat});
    dom.minimise = el('button', {type: 'button', className: 'chatbot-minimise',
      'aria-label': 'Minimise chat', title: 'Minimise chat', text: '–',
      onclick: function () { chatBot.actions.hideConversationWindow(); }});
    dom.log = el('ol', {className: 'chatbot-log', role: 'log', 'aria-label': 'Conversation'});
    dom.activity = el('p', {className: 'chatbot-activity', role: 'status'});
    dom.side = el('aside', {className: 'chatbot-side', 'aria-label': 'More information'});
    dom.input = el('textarea', {className: config.typingInputClass, rows: '1',
      'aria-label': 'Your message', placeholder: 'Write a message'});
    dom.send = el('button', {type: 'submit', className: 'chatbot-send', text: 'Send'});
    dom.file = el('input', {type: 'file', className: 'chatbot-file-input', 'aria-label': 'File'});
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

    function mediaLink(message) {
      return el('button', {type: 'button', className: 'chatbot-media', text: '↓ ' + message.media.name,
        onclick: function () {
          chatBot.actions.downloadMedia({messageId: message.id,
            messageExternalId: message.externalId, file: message.media});
        }});
    }

    function lastOf(user) {
      for (var i = state.messages.length - 1; i >= 0; i--) {
        if (!user || state.messages[i].user === user) return state.messages[i];
      }
      return null;
    }

    function renderMessage(message) {
      var attributes = {className: 'chatbot-message from-' + message.user,
        'data-id': message.id, 'data-external-id': message.externalId || null};
      if (message.user === 'guest') {
        var tick = TICK_BY_NAME[message.tick];
        attributes['data-tick'] = message.tick || null;
        return el('li', attributes, [
          el('div', {className: 'chatbot-bubble'}, [
            message.message ? el('span', {className: 'chatbot-text', text: message.message}) : null,
            message.media ? mediaLink(message) : null
          ]),
          tick ? el('span', {className: 'chatbot-tick tick-' + tick.name, title: tick.title,
            'aria-label': tick.title, role: 'img', text: tick.glyph}) : null
        ]);
      }
      if (message.user === 'system') {
        var open = message.selected === null && lastOf() === message;
        return el('li', attributes, [
          el('p', {className: 'chatbot-system', text: message.message}),
          message.options && message.options.length ? el('div', {className: 'chatbot-options'},
            message.options.map(function (option) {
              return el('button', {type: 'button', text: option.text, disabled: !open,
                'aria-pressed': message.selected === option.value ? 'true' : null,
                onclick: function () {
                  chatBot.actions.selectSystemMessageOption({id: message.id, option: {
                    label: option.label, value: option.value}});
                }});
            })) : null
        ]);
      }
      var bubble = el('div', {className: 'chatbot-bubble'});
      bubble.appendChild(sanitise(message.message));
      if (message.media) bubble.appendChild(mediaLink(message));
      var choices = null;
      if (message.options && message.options.length) {
        var usable = !message.clicked && lastOf('assistant') === message;
        choices = el('div', {className: 'chatbot-options'}, message.options.map(function (option) {
          return el('button', {type: 'button', text: option.label, disabled: !usable,
            onclick: function () {
              message.clicked = true;
              changed();
              chatBot.actions.displayUserMessage({message: option.label});
              chatBot.actions.sendMessage({message: option.label,
                userActivityOptions: option.value});
            }});
        }));
      }
      return el('li', attributes, [
        el('img', {className: 'chatbot-avatar', alt: '', src: message.agentIcon || null}),
        el('div', {className: 'chatbot-said'}, [
          el('span', {className: 'chatbot-author', text: message.agentName}),
          bubble,
          choices
        ])
      ]);
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

    function renderModal() {
      dom.modal.hidden = !state.modal;
      if (!state.modal) {
        dom.modal.replaceChildren();
        return;
      }
      var modal = state.modal;
      dom.modal.replaceChildren(el('p', {text: modal.message}),
        el('div', {className: 'chatbot-options'}, modal.options.map(function (option) {
          return el('button', {type: 'button', text: option.text, onclick: function () {
            state.modal = null;  // the click closes the question, whoever handles it
            changed();
            chatBot.actions.selectSystemMessageOption({id: modal.id,
              option: {label: option.label, value: option.value}});
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
      } else if (!open) {
        dom.custom.replaceChildren();
        delete dom.custom.dataset.content;
      }
    }

    function render() {
      renderModal();
      renderCustom();
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
      dom.log.replaceChildren.apply(dom.log, state.messages.map(renderMessage));
      dom.log.scrollTop = dom.log.scrollHeight;
      dom.side.hidden = !state.sideWindow;
      if (state.sideWindow) {
        dom.side.replaceChildren(el('h3', {text: state.sideWindow.title}),
          sanitise(state.sideWindow.content),
          el('button', {type: 'button', text: 'Close', onclick: function () {
            chatBot.actions.closeSideWindow();
          }}));
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
