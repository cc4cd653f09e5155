/*
 * A strict stand-in for the Inbenta Chatbot SDK, built from its action and subscription
 * reference (../shared/reference/seeds/004_be3d69b5c557232a.txt and
 * inbenta-sdk-adapter-facts.md): the same chatBot.actions and chatBot.subscriptions, a
 * first-in-first-out middleware chain, and a check of every call against the reference.
 *
 * An unknown action or subscription, a key the action does not document, a value of the
 * wrong kind, an argument given to an action that takes none, an `id` on a system message
 * that is not modal, a `next` called twice or with the wrong arguments: each is recorded in
 * chatBot.violations and thrown, so neither a caller that catches nor one that does not can
 * hide it. Every action call is recorded in chatBot.calls.
 *
 * Like the SDK, it keeps its messages across a reload (sessionStorage), unless built with
 * {forget: true}. It draws only what a test reads: the messages, the name, the custom
 * conversation window.
 */
(function (root) {
  'use strict';

  function any() { return true; }
  function isString(v) { return typeof v === 'string'; }
  function isBoolean(v) { return typeof v === 'boolean'; }
  function isObject(v) { return v !== null && typeof v === 'object' && !Array.isArray(v); }
  function isArray(v) { return Array.isArray(v); }
  function oneOf() {
    var values = Array.prototype.slice.call(arguments);
    return function (v) { return values.indexOf(v) >= 0; };
  }

  var MEDIA = isObject;
  // action -> {key: check} for actions with a data object; null for actions taking none;
  // 'free' for actions whose data is free-form.
  var REFERENCE = {
    closeSideWindow: null,
    customTrigger: 'free',
    disableInput: null,
    enableInput: null,
    displayChatbotActivity: {translate: isBoolean, message: isString,
      type: isString, name: isString, userId: isString},
    displayChatbotMessage: {
      type: oneOf('answer', 'polarQuestion', 'multipleChoiceQuestion',
        'extendedContentsAnswer', 'customAnswer'),
      message: isString, options: isArray, subAnswers: isArray,
      sideWindowContent: isString, sideWindowTitle: isString, trackingCode: isObject,
      media: MEDIA, custom: isObject, obfuscate: isBoolean, suggestedAnswer: isString,
      parameters: isObject, actionField: isObject, actionFieldEvents: isObject
    },
    displaySystemMessage: {id: isString, message: isString, modal: isBoolean, options: isArray,
      replacements: isObject, translate: isBoolean, custom: isObject},
    displayUserMessage: {custom: isObject, media: MEDIA, message: isString},
    downloadMedia: {messageId: isString, messageExternalId: any, file: isObject},
    escalateToAgent: 'free',
    getConversationTranscript: {maxInteractions: function (v) { return typeof v === 'number'; }},
    getSessionData: null,
    hideChatbotActivity: {type: isString, name: isString, userId: isString},
    hideCloseButton: null,
    hideConversationWindow: null,
    hideCustomConversationWindow: null,
    hideUploadMediaButton: null,
    rateContent: {trackingCode: isString, value: isString, comment: isString},
    resetSession: null,
    selectSystemMessageOption: {id: isString, option: isObject},
    sendMessage: {message: isString, userActivityOptions: isString, directCall: isString},
    setChatbotIcon: {source: oneOf('url', 'default'), url: isString},
    setChatbotName: {source: oneOf('name', 'default'), name: isString},
    setExternalInfo: 'free',
    setSessionData: 'free',
    showCloseButton: null,
    showConversationWindow: null,
    showCustomConversationWindow: {content: isString, showLoader: isBoolean},
    showSideWindow: {sideWindowContent: isString, sideWindowTitle: isString,
      trackingCode: isObject},
    showUploadMediaButton: null,
    suggestAnswer: {message: isString},
    updateConfiguration: {labels: isObject, launcher: isObject},
    updateMessage: {id: isString, externalId: isString, newExternalId: isString,
      action: oneOf('SINGLE_TICK', 'DOUBLE_TICK', 'WAITING_TICK', 'ERROR_TICK',
        'UPDATE_EXTERNAL')},
    uploadMedia: {messageId: isString, file: any}
  };
  // Subscriptions that are events, not actions: their callbacks get (next) only.
  var EVENTS = ['ready', 'domReady'];

  function capitalise(name) { return name.charAt(0).toUpperCase() + name.slice(1); }

  function build(container, options) {
    options = options || {};
    var storageKey = options.storageKey || 'strict-sdk';
    var labels = options.labels || {};
    var chatBot = {actions: {}, subscriptions: {}, api: {}, calls: [], violations: []};
    var chains = {};
    var saved = null;
    if (!options.forget) {
      try { saved = JSON.parse(root.sessionStorage.getItem(storageKey) || 'null'); } catch (e) {}
    }
    var state = saved || fresh();
    var counter = 0;

    function fresh() {
      return {sessionId: 'strict-' + Math.random().toString(36).slice(2), messages: [],
        name: null, icon: null, input: true, closeButton: false, uploadButton: false,
        custom: null, modal: null, externalInfo: []};
    }

    function violation(text) {
      chatBot.violations.push(text);
      throw new Error('strict SDK: ' + text);
    }

    function check(action, args) {
      var spec = REFERENCE[action];
      if (spec === null) {
        if (args.length > 0) violation(action + ' takes no argument, got ' + JSON.stringify(args[0]));
        return;
      }
      if (spec === 'free') return;
      if (args.length > 1) violation(action + ' takes one argument');
      var data = args[0];
      if (data === undefined && (action === 'hideChatbotActivity')) return;
      if (!isObject(data)) violation(action + ' needs an object, got ' + JSON.stringify(data));
      Object.keys(data).forEach(function (key) {
        if (!Object.prototype.hasOwnProperty.call(spec, key)) {
          violation(action + ': ' + key + ' is not a documented key');
        }
        if (data[key] !== undefined && !spec[key](data[key])) {
          violation(action + ': ' + key + ' has a wrong value ' + JSON.stringify(data[key]));
        }
      });
      if (action === 'displaySystemMessage' && 'id' in data && data.modal !== true) {
        violation('displaySystemMessage: id is only for modal system messages');
      }
      if (action === 'displaySystemMessage' && !isString(data.message)) {
        violation('displaySystemMessage: message is required');
      }
      if (action === 'displayChatbotMessage' && !isString(data.message)) {
        violation('displayChatbotMessage: message is required');
      }
      if (action === 'setChatbotName' && data.source === 'name' && !isString(data.name)) {
        violation('setChatbotName: a name is required with source "name"');
      }
      if (action === 'setChatbotIcon' && data.source === 'url' && !isString(data.url)) {
        violation('setChatbotIcon: a url is required with source "url"');
      }
      if (action === 'updateMessage' && !isString(data.externalId) && !isString(data.id)) {
        violation('updateMessage: the id must be a string');
      }
    }

    function save() {
      if (options.forget) return;
      try { root.sessionStorage.setItem(storageKey, JSON.stringify(state)); } catch (e) {}
    }

    function newId() {
      counter += 1;
      return 'sdk-' + Date.now().toString(36) + '-' + counter + '-' +
        Math.random().toString(36).slice(2, 6);
    }

    function find(data) {
      for (var i = state.messages.length - 1; i >= 0; i--) {
        var m = state.messages[i];
        if (data.externalId ? m.externalId === data.externalId : m.id === data.id) return m;
      }
      return null;
    }

    function translate(message, translateIt, replacements) {
      var out = translateIt && labels[message] !== undefined ? labels[message] : message;
      Object.keys(replacements || {}).forEach(function (key) {
        out = out.split('{' + key + '}').join(String(replacements[key]));
      });
      return out;
    }

    function add(message) {
      message.id = newId();
      message.datetime = new Date().toISOString();
      state.messages.push(message);
      changed();
      return message.id;
    }

    var builtins = {
      displayChatbotMessage: function (data) {
        add({user: 'assistant', type: data.type || 'answer', message: data.message,
          media: data.media || null, custom: data.custom || null,
          agentName: state.name || options.name || 'Bot'});
      },
      displayUserMessage: function (data) {
        return add({user: 'guest', message: data.message || '', media: data.media || null,
          externalId: null, tick: null});
      },
      displaySystemMessage: function (data) {
        var text = translate(data.message, data.translate, data.replacements);
        if (data.modal) {
          state.modal = {id: data.id, message: text, options: data.options || []};
          changed();
          return undefined;
        }
        return add({user: 'system', message: text, options: data.options || []});
      },
      displayChatbotActivity: function () { state.activity = true; changed(); },
      hideChatbotActivity: function () { state.activity = false; changed(); },
      setChatbotName: function (data) {
        state.name = data.source === 'name' ? data.name : null; changed();
      },
      setChatbotIcon: function (data) {
        state.icon = data.source === 'url' ? data.url : null; changed();
      },
      updateMessage: function (data) {
        var message = find(data);
        if (!message) throw new Error('updateMessage: no message ' + (data.externalId || data.id));
        if (data.action === 'UPDATE_EXTERNAL') message.externalId = data.newExternalId;
        else message.tick = data.action;
        changed();
      },
      disableInput: function () { state.input = false; changed(); },
      enableInput: function () { state.input = true; changed(); },
      showCloseButton: function () { state.closeButton = true; changed(); },
      hideCloseButton: function () { state.closeButton = false; changed(); },
      showUploadMediaButton: function () { state.uploadButton = true; changed(); },
      hideUploadMediaButton: function () { state.uploadButton = false; changed(); },
      showCustomConversationWindow: function (data) { state.custom = data.content; changed(); },
      hideCustomConversationWindow: function () { state.custom = null; changed(); },
      setExternalInfo: function (data) { state.externalInfo.push(data); save(); },
      sendMessage: function (data) {
        chatBot.actions.displayChatbotMessage({type: 'answer', message: 'The bot heard: ' +
          data.message});
      },
      escalateToAgent: function () {},
      selectSystemMessageOption: function (data) {
        if (state.modal && state.modal.id === data.id) state.modal = null;
        changed();
        // The reference: a confirmed exitConversation resets the session, as the close
        // button of a build without the question does.
        if (data.id === 'exitConversation' && data.option.value === 'yes') {
          chatBot.actions.resetSession();
        }
      },
      resetSession: function () { state = fresh(); changed(); },
      getConversationTranscript: function (data) {
        var max = data && data.maxInteractions ? data.maxInteractions : 50;
        return state.messages.filter(function (m) { return m.user !== 'system'; }).slice(-max)
          .map(function (m) {
            var item = {user: m.user, message: m.message, datetime: m.datetime, id: m.id};
            if (m.externalId) item.externalId = m.externalId;
            if (m.user === 'assistant') { item.type = m.type; item.agentName = m.agentName; }
            return item;
          });
      },
      getSessionData: function () {
        return {sessionId: state.sessionId, closeButtonVisible: state.closeButton,
          messages: JSON.parse(JSON.stringify(state.messages)), visible: true};
      },
      uploadMedia: function () {},
      downloadMedia: function () {}
    };

    function dispatch(name, args, isEvent) {
      var handlers = chains[name];
      function step(index, current) {
        if (index < handlers.length) {
          var called = false;
          var next = function () {
            if (called) violation('next of ' + name + ' called twice');
            called = true;
            if (isEvent || REFERENCE[name] === null) {
              if (arguments.length > 0) violation('next of on' + capitalise(name) + ' takes no argument');
              return step(index + 1, current);
            }
            if (arguments.length !== 1) {
              violation('next of on' + capitalise(name) + ' must be given the data');
            }
            return step(index + 1, [arguments[0]]);
          };
          return handlers[index].apply(null, current.concat([next]));
        }
        if ((options.failing || []).indexOf(name) >= 0) {
          throw new Error('this build\'s ' + name + ' is broken');  // not a violation
        }
        return builtins[name] ? builtins[name].apply(null, current) : undefined;
      }
      return step(0, args);
    }

    Object.keys(REFERENCE).forEach(function (name) {
      chains[name] = [];
      chatBot.actions[name] = function () {
        var args = Array.prototype.slice.call(arguments);
        chatBot.calls.push({action: name, data: args.length ? args[0] : null});
        check(name, args);
        return dispatch(name, args, false);
      };
    });
    EVENTS.forEach(function (name) { chains[name] = []; });
    Object.keys(chains).forEach(function (name) {
      chatBot.subscriptions['on' + capitalise(name)] = function (callback) {
        if (typeof callback !== 'function') violation('on' + capitalise(name) + ' needs a function');
        chains[name].push(callback);
      };
    });
    // An unknown action or subscription is a violation, not an undefined to ignore.
    if (root.Proxy) {
      var guard = function (kind) {
        return {get: function (target, key) {
          if (typeof key === 'string' && !(key in target) && key !== 'then' &&
              key !== 'toJSON') {
            violation('no ' + kind + ' ' + key);
          }
          return target[key];
        }};
      };
      chatBot.actions = new Proxy(chatBot.actions, guard('action'));
      chatBot.subscriptions = new Proxy(chatBot.subscriptions, guard('subscription'));
    }

    // -- what a test reads ------------------------------------------------------------------
    var dom = document.createElement('section');
    dom.setAttribute('aria-label', 'Strict SDK');
    container.appendChild(dom);

    function changed() {
      save();
      render();
    }

    function render() {
      dom.replaceChildren();
      var name = document.createElement('h2');
      name.textContent = state.name || options.name || 'Bot';
      dom.appendChild(name);
      if (state.custom !== null) {
        var custom = document.createElement('div');
        custom.className = 'custom-window';
        custom.innerHTML = state.custom;
        dom.appendChild(custom);
      }
      var log = document.createElement('ol');
      log.setAttribute('aria-label', 'Messages');
      state.messages.forEach(function (m) {
        var item = document.createElement('li');
        item.dataset.user = m.user;
        item.dataset.id = m.id;
        if (m.tick) item.dataset.tick = m.tick;
        item.textContent = m.message + (m.media ? ' [' + m.media.name + ']' : '');
        log.appendChild(item);
      });
      dom.appendChild(log);
    }

    chatBot.state = function () { return state; };
    // The SDK's close button: its own question, a modal system message, then the answer.
    chatBot.closeButton = function (answer) {
      chatBot.actions.displaySystemMessage({id: 'exitConversation', modal: true,
        message: 'exit-conversation', translate: true,
        options: [{label: 'yes', value: 'yes'}, {label: 'no', value: 'no'}]});
      chatBot.actions.selectSystemMessageOption({id: 'exitConversation',
        option: {label: answer, value: answer}});
    };

    (options.adapters || []).forEach(function (adapter) { adapter(chatBot); });
    render();
    setTimeout(function () {
      dispatch('domReady', [], true);
      dispatch('ready', [], true);
    }, 0);
    return chatBot;
  }

  root.StrictChatbotSDK = {build: build};
})(window);
