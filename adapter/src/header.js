/*!
 * offload-hub browser adapter for the Inbenta Chatbot SDK.
 *
 * One file, no dependencies. Served by the hub at /static/offload-hub-adapter.js.
 * Built from adapter/src/*.js by adapter/bundle.py: edit those, not this file.
 *
 *   InbentaChatbotSDK.buildWithDomainCredentials(auth, {
 *     adapters: [OffloadHub.adapter({hubUrl: 'https://hub.example', botId: 'bot_...'})],
 *     labels: {en: OffloadHub.labels},
 *   });
 *
 * The adapter hands the conversation to the hub on escalateToAgent, sends what the user
 * writes (and uploads) while the chat is open, and applies every envelope of the hub's
 * event stream as chatBot.actions[action](data). It resumes the stream after a dropped
 * connection or a page reload from the last seq it applied: nothing is lost, nothing is
 * shown twice. docs/adapter.md describes every option.
 */
