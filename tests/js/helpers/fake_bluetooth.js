// A fake Web Bluetooth layer (navigator.bluetooth, BluetoothDevice, its GATT server, the service and the two
// characteristics of the reference sensor), driven by the test: notify(bytes) delivers a notification, drop()
// disconnects, failConnects makes the next connects fail. Writes to the command characteristic are logged.

import { COMMAND_UUID, DATA_UUID, SERVICE_UUID } from "../../../server/static/js/relay/protocol.js";

class Events {
  constructor() {
    this.listeners = new Map();
  }
  addEventListener(type, fn) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type).add(fn);
  }
  removeEventListener(type, fn) {
    this.listeners.get(type)?.delete(fn);
  }
  dispatch(type, event) {
    for (const fn of [...(this.listeners.get(type) || [])]) fn(event);
  }
}

export class FakeDevice extends Events {
  constructor(id, name) {
    super();
    this.id = id;
    this.name = name;
    this.writes = []; // Uint8Array commands, in order
    this.failConnects = 0;
    this.connects = 0;
    this.notifying = false;
    const device = this;
    this.data = Object.assign(new Events(), {
      uuid: DATA_UUID,
      async startNotifications() {
        device.notifying = true;
        return this;
      },
    });
    this.command = {
      uuid: COMMAND_UUID,
      async writeValueWithResponse(bytes) {
        if (!device.gatt.connected) throw new Error("GATT Server is disconnected.");
        device.writes.push(new Uint8Array(bytes));
      },
    };
    const service = {
      uuid: SERVICE_UUID,
      async getCharacteristic(uuid) {
        if (uuid === DATA_UUID) return device.data;
        if (uuid === COMMAND_UUID) return device.command;
        throw new Error(`no characteristic ${uuid}`);
      },
    };
    this.gatt = {
      connected: false,
      device: this,
      async connect() {
        await Promise.resolve();
        if (device.failConnects > 0) {
          device.failConnects -= 1;
          throw new Error("Connection attempt failed.");
        }
        device.connects += 1;
        this.connected = true;
        return this;
      },
      disconnect() {
        if (!this.connected) return;
        this.connected = false;
        device.notifying = false;
        device.dispatch("gattserverdisconnected", { target: device });
      },
      async getPrimaryService(uuid) {
        if (uuid !== SERVICE_UUID) throw new Error(`no service ${uuid}`);
        return service;
      },
    };
  }

  /** Deliver one notification (only while subscribed, as a real link). Returns whether it was delivered. */
  notify(bytes) {
    if (!this.gatt.connected || !this.notifying) return false;
    const buffer = new Uint8Array(bytes).buffer;
    this.data.dispatch("characteristicvaluechanged", { target: { value: new DataView(buffer) } });
    return true;
  }

  /** The link drops (out of range). */
  drop() {
    this.gatt.disconnect();
  }
}

export class FakeBluetooth {
  constructor(devices) {
    this.devices = devices;
    this.offered = 0;
    this.granted = [];
    this.requests = [];
  }

  /** The chooser: hands out the devices in order (the patient picks the next sensor). */
  async requestDevice(options) {
    this.requests.push(options);
    const device = this.devices[this.offered++];
    if (!device) throw Object.assign(new Error("User cancelled the requestDevice() chooser."), { name: "NotFoundError" });
    if (!this.granted.includes(device)) this.granted.push(device);
    return device;
  }

  async getDevices() {
    return [...this.granted];
  }
}
