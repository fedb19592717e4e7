// Smoke scenario for @elizaos/plugin-telegram: the bot discovers a supergroup
// (the service's own handleNewChat writes the world and the general room with
// ensureWorldExists / ensureRoomExists), syncs the sender (syncEntity ->
// ensureConnection), and a text message goes through the connector's own
// MessageManager.handleMessage into the core's message pipeline.
//
// No token, no network: Telegraf is constructed for real with a placeholder
// token, and its one exit to the network (`telegram.callApi`) is replaced by a
// fake Bot API answering the few methods these handlers call. The service is
// constructed directly rather than started, because `start()` launches
// long polling. Models answer IGNORE (offlineModelsPlugin).
//
// plugin-telegram 1.6.4 still passes `serverId`; it never reads it back, so on
// core >= 1.6.5 the drop would be silent: the scenario checks that the world kept the
// chat id and fails with `data loss: server id ...` when it did not.

import { runScenario, createRuntime, describeRoom, check, checkServerIdKept } from "./runtime.mjs";

const CONNECTOR = process.env.CANARY_CONNECTOR || "@elizaos/plugin-telegram";

const CHAT_ID = -1001234567890;
const USER = { id: 4242, is_bot: false, first_name: "Alice", username: "alice" };
const BOT = { id: 777, is_bot: true, first_name: "Canary", username: "canary_bot" };

// The fake Telegram Bot API: method -> answer.
const BOT_API = {
  getMe: () => BOT,
  getChatAdministrators: () => [{ status: "creator", user: USER }],
  getChat: () => ({ id: CHAT_ID, type: "supergroup", title: "Canary Group" }),
  sendMessage: (payload) => ({ message_id: 2, date: Math.floor(Date.now() / 1000), chat: { id: payload.chat_id }, text: payload.text }),
  sendChatAction: () => true,
};

function fakeContext(service) {
  const chat = { id: CHAT_ID, type: "supergroup", title: "Canary Group", is_forum: false };
  const message = { message_id: 1, date: Math.floor(Date.now() / 1000), chat, from: USER, text: "hello from the canary" };
  return {
    chat,
    from: USER,
    message,
    update: { update_id: 1, message },
    botInfo: BOT,
    telegram: service.bot.telegram,
    getChatAdministrators: async () => BOT_API.getChatAdministrators(),
    reply: async (text) => BOT_API.sendMessage({ chat_id: CHAT_ID, text }),
    sendChatAction: async () => true,
  };
}

await runScenario(`telegram new supergroup + message (${CONNECTOR})`, CONNECTOR, async (stack, keep) => {
  const runtime = keep(
    await createRuntime(stack, { secrets: { TELEGRAM_BOT_TOKEN: "123456:canary-offline-placeholder" } }),
  );
  const TelegramService = stack.plugin.services?.[0] ?? stack.connectorModule.TelegramService;
  check(TelegramService, "the plugin exports no Telegram service");
  const service = new TelegramService(runtime);
  check(service.bot && service.messageManager, "TelegramService built no bot/MessageManager with a token");
  const calls = [];
  service.bot.telegram.callApi = async (method, payload = {}) => {
    calls.push(method);
    const answer = BOT_API[method];
    if (!answer) throw new Error(`fake Bot API: unexpected method ${method}`);
    return answer(payload);
  };
  service.bot.botInfo = BOT;

  const ctx = fakeContext(service);
  const { createUniqueUuid } = stack.core;

  // Connector code that writes the world, the room and the connections.
  await service.handleNewChat(ctx);
  await service.syncEntity(ctx);
  await service.messageManager.handleMessage(ctx);
  console.log(`[scenario] fake Bot API calls: ${JSON.stringify(calls)}`);

  const chatId = String(CHAT_ID);
  const worldId = createUniqueUuid(runtime, chatId);
  const roomId = createUniqueUuid(runtime, chatId);
  const stored = await describeRoom(runtime, roomId, chatId);
  check(stored.room, `the connector stored no room for chat ${chatId}`);
  const world = await runtime.getWorld(worldId);
  check(world, `the connector stored no world for chat ${chatId}`);

  // Connector code that reads them back: a second discovery of the same chat
  // must find the stored world (handleNewChat returns early on it).
  await service.handleNewChat(ctx);
  const memories = await runtime.getMemories({ roomId, tableName: "messages", count: 10 });
  console.log(`[scenario] messages stored in the room: ${memories.length}`);
  checkServerIdKept(stored, chatId);
  return runtime;
});
