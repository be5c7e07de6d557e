; Inno Setup script for the Windows installer of Denoiser Studio.
;
; build.py compiles it after PyInstaller when ISCC.exe (Inno Setup 6) is on PATH:
;   iscc /DAppVersion=0.1.0 /DSourceDir=dist\denoiser-studio /DOutputDir=dist
;        [/DIconFile=build\icons\denoiser-studio.ico] packaging\windows\denoiser-studio.iss
; AppVersion comes from pyproject.toml through build.py; nothing here repeats it.
; Written against Inno Setup 6 documentation; not compiled in this repository's CI
; (no Windows runner), see packaging/README.md.

#ifndef AppVersion
  #error Pass /DAppVersion=X.Y.Z (build.py does)
#endif
#ifndef SourceDir
  #define SourceDir "..\..\dist\denoiser-studio"
#endif
#ifndef OutputDir
  #define OutputDir "..\..\dist"
#endif

#define AppName "Denoiser Studio"
#define AppId "denoiser-studio"

[Setup]
; a fixed GUID keeps upgrades in place; never change it
AppId={{6F1C2A6E-3B7D-4E51-9C2B-6A0D3E8F4B17}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=Denoiser Studio developers
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
OutputDir={#OutputDir}
OutputBaseFilename={#AppId}-{#AppVersion}-setup
Compression=lzma2/max
SolidCompression=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
PrivilegesRequiredOverridesAllowed=dialog
WizardStyle=modern
UninstallDisplayIcon={app}\denoiser-gui.exe
#ifdef IconFile
SetupIconFile={#IconFile}
#endif
; lets the installer add the folder with denoiser.exe to PATH (task below)
ChangesEnvironment=yes

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked
Name: "addtopath"; Description: "Add the denoiser command to PATH"; GroupDescription: "Command line:"; Flags: unchecked

[Files]
; the whole PyInstaller folder: denoiser.exe, denoiser-gui.exe and _internal\ (models included)
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\denoiser-gui.exe"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\denoiser-gui.exe"; Tasks: desktopicon

[Registry]
Root: HKA; Subkey: "Environment"; ValueType: expandsz; ValueName: "Path"; ValueData: "{olddata};{app}"; Tasks: addtopath; Check: NeedsAddPath(ExpandConstant('{app}'))

[Run]
Filename: "{app}\denoiser-gui.exe"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[Code]
function NeedsAddPath(Dir: string): Boolean;
var
  Current: string;
begin
  if not RegQueryStringValue(HKEY_CURRENT_USER, 'Environment', 'Path', Current) then
    Current := '';
  Result := Pos(';' + Uppercase(Dir) + ';', ';' + Uppercase(Current) + ';') = 0;
end;
