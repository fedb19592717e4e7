// Smoke scenario for @elizaos/plugin-discord: a guild text message goes
// through the connector's own MessageManager.handleMessage (which writes the
// world and room with ensureConnection), then the connector's own providers
// (voiceState, channelState) read that room back.
//
// No token, no network: discord.js' Client is constructed for real but its
// `login` is replaced (the only network call), and the guild, channel and
// message are plain objects shaped like discord.js ones.
//
// On core >= 1.6.5 plugin-discord 1.3.3 writes `serverId`, which the core no
// longer stores, and its voiceState provider throws `No server ID found 10`.

import {
  importFrom, runScenario, createRuntime, registerConnector, runProviders, describeRoom, check, checkServerIdKept, memoryFor,
} from "./runtime.mjs";

const CONNECTOR = process.env.CANARY_CONNECTOR || "@elizaos/plugin-discord";

// Discord snowflakes of the fake platform objects.
const GUILD_ID = "1100000000000000001";
const CHANNEL_ID = "1100000000000000002";
const BOT_ID = "1100000000000000003";
const USER_ID = "1100000000000000004";
const MESSAGE_ID = "1100000000000000005";

function fakeGuildMessage(ChannelType) {
  const members = { cache: new Map() }; // the bot is not a member: the connector stops before replying
  const guild = {
    id: GUILD_ID,
    name: "Canary Guild",
    ownerId: USER_ID,
    members,
    channels: { cache: new Map() },
    fetch: async () => guild,
  };
  const channel = {
    id: CHANNEL_ID,
    name: "general",
    type: ChannelType.GuildText,
    guild,
    guildId: GUILD_ID,
    client: { user: { id: BOT_ID } },
    isThread: () => false,
    isTextBased: () => true,
    isVoiceBased: () => false,
    isDMBased: () => false,
    permissionsFor: () => null,
    toString: () => `<#${CHANNEL_ID}>`,
  };
  guild.channels.cache.set(CHANNEL_ID, channel);
  return {
    id: MESSAGE_ID,
    content: "hello from the canary",
    cleanContent: "hello from the canary",
    author: { id: USER_ID, username: "alice", displayName: "Alice", globalName: "Alice", bot: false, discriminator: "0" },
    member: null,
    guild,
    guildId: GUILD_ID,
    channel,
    channelId: CHANNEL_ID,
    mentions: { users: new Map(), repliedUser: null, has: () => false },
    reference: null,
    interaction: null,
    attachments: new Map(),
    embeds: [],
    createdTimestamp: Date.now(),
    url: `https://discord.invalid/channels/${GUILD_ID}/${CHANNEL_ID}/${MESSAGE_ID}`,
  };
}

await runScenario(`discord guild message -> providers (${CONNECTOR})`, CONNECTOR, async (stack, keep) => {
  const discordjs = await importFrom(stack.connectorDir, "discord.js");
  const Client = discordjs.Client ?? discordjs.default?.Client;
  const ChannelType = discordjs.ChannelType ?? discordjs.default?.ChannelType;
  // The one network call of the service: logging in to the Discord gateway.
  Client.prototype.login = async function fakeLogin() {
    return "canary-offline";
  };

  const runtime = keep(
    await createRuntime(stack, {
      // A placeholder so the service builds its client and MessageManager.
      secrets: { DISCORD_API_TOKEN: "canary-offline-placeholder" },
    }),
  );
  const service = await registerConnector(runtime, stack.plugin, "discord");
  check(service?.messageManager, "discord service started without a MessageManager");

  // Connector code that writes the world and the room.
  const message = fakeGuildMessage(ChannelType);
  await service.messageManager.handleMessage(message);

  const { createUniqueUuid } = stack.core;
  const roomId = createUniqueUuid(runtime, CHANNEL_ID);
  const stored = await describeRoom(runtime, roomId, GUILD_ID);
  check(stored.room, `the connector's handleMessage stored no room ${roomId}`);

  // Connector code that reads them back.
  const memory = memoryFor(runtime, {
    id: createUniqueUuid(runtime, MESSAGE_ID),
    roomId,
    entityId: createUniqueUuid(runtime, USER_ID),
    text: message.content,
    source: "discord",
    extra: { channelType: stored.room.type },
  });
  await runProviders(runtime, stack.plugin, memory, ["voiceState", "channelState"]);
  // After the providers: on 1.3.3 their own `No server ID found 10` is the first failure.
  checkServerIdKept(stored, GUILD_ID);
  try {
    await service.client?.destroy?.();
  } catch {
    // the client never connected
  }
  return runtime;
});
