{{- define "obot.mcpNamespace" -}}
{{- default (printf "%s-mcp" .Release.Name) .Values.mcpNamespace.name -}}
{{- end -}}
{{- define "obot.labels" -}}
app.kubernetes.io/name: obot
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
{{- define "obot.validate" -}}
{{- $repo := .Values.config.OBOT_SERVER_MCPNETWORK_POLICY_PROVIDER_CHART_REPO -}}
{{- $name := .Values.config.OBOT_SERVER_MCPNETWORK_POLICY_PROVIDER_CHART_NAME -}}
{{- if and $name (not $repo) -}}
{{- fail "config.OBOT_SERVER_MCPNETWORK_POLICY_PROVIDER_CHART_NAME needs config.OBOT_SERVER_MCPNETWORK_POLICY_PROVIDER_CHART_REPO" -}}
{{- end -}}
{{- if and $repo (not $name) -}}
{{- fail "config.OBOT_SERVER_MCPNETWORK_POLICY_PROVIDER_CHART_REPO needs config.OBOT_SERVER_MCPNETWORK_POLICY_PROVIDER_CHART_NAME" -}}
{{- end -}}
{{- range $key, $_ := .Values.config -}}
{{- if has $key (list "OBOT_BOOTSTRAP_TOKEN" "OBOT_SERVER_DSN") -}}
{{- fail (printf "config.%s is secret: set it under secret instead" $key) -}}
{{- end -}}
{{- end -}}
{{- end -}}
