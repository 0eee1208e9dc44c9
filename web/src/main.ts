import "./app.css";
import { mount } from "svelte";
import App from "./App.svelte";
import { installEmojiFont } from "./lib/emojifont";

installEmojiFont();

const target = document.getElementById("app");
if (target) mount(App, { target });
