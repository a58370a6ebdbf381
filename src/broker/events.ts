import type { BrokerEvent, EventState, StoredMessage } from "./types.ts";

/** Builds the event of one state change of a message. */
export function makeEvent(message: StoredMessage, state: EventState, extra?: Partial<BrokerEvent>): BrokerEvent {
  const event: BrokerEvent = { time: Date.now(), state, messageId: message.messageId, url: message.url };
  if (message.labels?.length) {
    event.label = message.labels[0];
    event.labels = message.labels;
  }
  if (message.queueName) event.queueName = message.queueName;
  if (message.scheduleId) event.scheduleId = message.scheduleId;
  if (message.topicName) event.topicName = message.topicName;
  if (message.endpointName) event.endpointName = message.endpointName;
  if (message.flowControlKey) event.flowControlKey = message.flowControlKey;
  if (message.callerIp) event.callerIp = message.callerIp;
  return extra ? Object.assign(event, extra) : event;
}

/** One log line per state change, as `jobwire dev` prints them. */
export function formatEvent(event: BrokerEvent): string {
  const time = new Date(event.time).toISOString().slice(11, 23);
  let line = `${time} ${event.state.padEnd(16)} ${event.messageId} ${event.url}`;
  if (event.queueName) line += ` queue=${event.queueName}`;
  if (event.responseStatus !== undefined) line += ` status=${event.responseStatus}`;
  if (event.error && event.responseStatus === undefined) line += ` error="${event.error}"`;
  if (event.nextDeliveryTime !== undefined) line += ` next in ${Math.max(0, event.nextDeliveryTime - event.time)}ms`;
  return line;
}
