/** The HTML pages a person sees while signing in to the dev identity provider. Self-contained: no external assets. */

/** Escapes text for HTML element content and double-quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;background:#f4f5f7;color:#1f2328;margin:0}
main{max-width:340px;margin:72px auto;background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:24px 28px}
h1{font-size:1.35em;margin:0 0 4px}p{line-height:1.45}.muted{color:#57606a;font-size:.9em}.error{color:#cf222e}
label{display:block;font-size:.9em;margin:12px 0 4px}
input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:8px;font-size:1em;border:1px solid #d0d7de;border-radius:6px}
input[name=user_code]{text-transform:uppercase;text-align:center;letter-spacing:.15em}
input[name=user_code]::placeholder{text-transform:none;letter-spacing:normal}
button{width:100%;margin-top:16px;padding:9px;font-size:1em;border:0;border-radius:6px;background:#1f6feb;color:#fff;cursor:pointer}
button.link{background:none;color:#57606a;margin-top:6px}code{font-size:1.6em;letter-spacing:.1em}`;

/** Wraps a page body in the shared layout. */
export function layout(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · jit dev sign-in</title><style>${STYLE}</style></head>
<body><main>${body}</main></body></html>`;
}

/** The page where a person types the code their terminal shows; `form` is the provider's form (with its xsrf field). */
export function userCodeInputPage(form: string, error?: string): string {
  const message = error
    ? `<p class="error">${escapeHtml(error)}</p>`
    : `<p>Enter the code shown by <strong>jit login</strong>.</p>`;
  return layout("Enter code", `<h1>Sign in to jit</h1>${message}${form}
<button type="submit" form="op.deviceInputForm">Continue</button>`);
}

/** Asks the person to check that the code matches their terminal before signing in. */
export function userCodeConfirmPage(form: string, userCode: string, clientName: string): string {
  return layout("Confirm code", `<h1>Confirm the code</h1>
<p><strong>${escapeHtml(clientName)}</strong> asks to sign in. Check that your terminal shows:</p>
<p style="text-align:center"><code>${escapeHtml(userCode)}</code></p>
<p class="muted">If you did not run <strong>jit login</strong> or the code differs, cancel.</p>${form}
<button type="submit" form="op.deviceConfirmForm">Continue</button>
<button class="link" type="submit" form="op.deviceConfirmForm" name="abort" value="yes">Cancel</button>`);
}

/** The user name and password form of the demo users. */
export function loginPage(action: string, opts: { error?: string; username?: string } = {}): string {
  const error = opts.error ? `<p class="error">${escapeHtml(opts.error)}</p>` : "";
  return layout("Sign in", `<h1>Sign in</h1>
<p class="muted">Demo users: alice, bob, carol, dave. The password is the user name.</p>${error}
<form method="post" action="${escapeHtml(action)}">
<label for="username">User name</label>
<input type="text" id="username" name="username" value="${escapeHtml(opts.username ?? "")}" autocomplete="username"${opts.username ? "" : " autofocus"} required>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password"${opts.username ? " autofocus" : ""} required>
<button type="submit">Sign in</button>
<button class="link" type="submit" name="abort" value="yes" formnovalidate>Cancel</button>
</form>`);
}

/** Shown once the device login is approved. */
export function successPage(): string {
  return layout("Signed in", `<h1>You are signed in</h1>
<p>Return to your terminal: <strong>jit login</strong> finishes by itself. You can close this page.</p>`);
}

/** Shown for errors the person cannot fix on the page itself. */
export function errorPage(message: string, detail?: string): string {
  return layout("Sign-in failed", `<h1>Sign-in failed</h1><p class="error">${escapeHtml(message)}</p>
${detail ? `<p class="muted">${escapeHtml(detail)}</p>` : ""}<p class="muted">Run <strong>jit login</strong> again to get a new code.</p>`);
}
